"""A run's timeline as people read it: what happened when, and every queue call's fate."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select

from ferry.agents.errors import NotFound
from ferry.store import Database
from ferry.store.schema import queue_calls, run_events, runs

__all__ = ["timeline"]

Json = dict[str, Any]


def _time(millis: int | None) -> str:
    if millis is None:
        return ""
    return datetime.fromtimestamp(millis / 1000, UTC).strftime("%H:%M:%S.%f")[:-3]


def timeline(database: Database, run_id: str) -> Json:
    def work(conn: Connection) -> Json:
        run = conn.execute(select(runs.c.body).where(runs.c.id == run_id)).scalar_one_or_none()
        if run is None:
            raise NotFound(f"No run found with id '{run_id}'.")
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
                "tool": row.tool,
                "state": row.state,
                "input": f"{row.input_url}/{row.input_queue}",
                "output": f"{row.output_url}/{row.output_queue}",
                "put": _time(row.sent_at),
                "answered": _time(row.answered_at),
                "deadline": _time(row.deadline),
                "late": row.late_answers,
            }
            for row in conn.execute(
                select(queue_calls)
                .where(queue_calls.c.run_id == run_id)
                .order_by(queue_calls.c.created_at)
            )
        ]
        return {"run": dict(run), "events": events, "calls": calls}

    return database.read_sync(work)
