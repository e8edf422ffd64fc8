"""A run's timeline as people read it: what happened when, every queue call's fate, and
every other tool call's (the client's functions; the tools Ferry carries out: where a call
that acts stands, `stage`: approval, approved, refused, started).

Classic runs and v2 responses alike (both are runs of the core)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection, select

from ferry.runs.errors import RunNotFound
from ferry.store import Database
from ferry.store.schema import run_events, runs, tool_calls
from ferry.types import Json

__all__ = ["timeline"]


def _time(millis: int | None) -> str:
    if millis is None:
        return ""
    return datetime.fromtimestamp(millis / 1000, UTC).strftime("%H:%M:%S.%f")[:-3]


def timeline(database: Database, run_id: str) -> Json:
    def work(conn: Connection) -> Json:
        row = conn.execute(select(runs).where(runs.c.id == run_id)).one_or_none()
        if row is None:
            raise RunNotFound(f"No run found with id '{run_id}'.")
        body = dict(row.body)
        run = {
            "id": row.id,
            "api": row.api,
            "status": row.status,
            "conversation_id": row.conversation_id,
            "previous_run_id": row.previous_run_id,
            "agent": body.get("agent"),
            "model": body.get("model"),
            "last_error": body.get("last_error"),
        }
        events = [
            {
                "time": _time(row.at),
                "at": row.at,
                "event": row.kind,
                "detail": ", ".join(f"{k}={v}" for k, v in dict(row.detail).items()),
            }
            for row in conn.execute(
                select(run_events).where(run_events.c.run_id == run_id).order_by(run_events.c.seq)
            )
        ]
        calls = [
            {
                "correlation_id": row.correlation_id,
                "tool": row.name,
                "state": row.state,
                "input": f"{row.input_url}/{row.input_queue}",
                "output": f"{row.output_url}/{row.output_queue}",
                "put": _time(row.sent_at),
                "answered": _time(row.answered_at),
                "deadline": _time(row.deadline),
                "late": row.late_answers,
            }
            for row in conn.execute(
                select(tool_calls)
                .where(tool_calls.c.run_id == run_id, tool_calls.c.correlation_id.is_not(None))
                .order_by(tool_calls.c.created_at)
            )
        ]
        tools = [
            {
                "call_id": row.call_id,
                "tool": row.kind,
                "name": row.name,
                "state": row.state,
                "stage": row.payload or "",
                "made": _time(row.created_at),
                "answered": _time(row.answered_at),
                "deadline": _time(row.deadline),
            }
            for row in conn.execute(
                select(tool_calls)
                .where(tool_calls.c.run_id == run_id, tool_calls.c.correlation_id.is_(None))
                .order_by(tool_calls.c.created_at)
            )
        ]
        return {"run": run, "events": events, "calls": calls, "tools": tools}

    return database.read_sync(work)
