"""The agent service's objects in the database: agents, threads, messages, runs, steps.

Every object is kept as its wire JSON plus the columns that queries need. Operations that
check one object's state before changing another (a run on a thread with no active run, tool
outputs for a run that asked for them) run in one transaction, so two processes sharing a
PostgreSQL database cannot both succeed where only one may.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Connection, Table, delete, func, select, update

from ferry.agents.errors import BadRequest, NotFound
from ferry.clock import Clock, system_clock
from ferry.store import Database
from ferry.store.schema import (
    agent_threads,
    assistants,
    queue_calls,
    run_steps,
    runs,
    thread_messages,
)

__all__ = ["ACTIVE", "TERMINAL", "AgentStore", "Kind", "Page", "messages_of", "steps_of"]

Json = dict[str, Any]
Kind = Literal["assistant", "thread", "message", "run", "step"]

ACTIVE = ("queued", "in_progress", "requires_action", "cancelling")
"""Run states during which the thread is busy."""
TERMINAL = ("completed", "failed", "cancelled", "expired", "incomplete")

_TABLES: dict[Kind, Table] = {
    "assistant": assistants,
    "thread": agent_threads,
    "message": thread_messages,
    "run": runs,
    "step": run_steps,
}
_NAMES: dict[Kind, str] = {
    "assistant": "assistant",
    "thread": "thread",
    "message": "message",
    "run": "run",
    "step": "run step",
}


@dataclass(frozen=True)
class Page:
    data: list[Json]
    has_more: bool

    def to_json(self) -> Json:
        return {
            "object": "list",
            "data": self.data,
            "first_id": self.data[0]["id"] if self.data else None,
            "last_id": self.data[-1]["id"] if self.data else None,
            "has_more": self.has_more,
        }


def _missing(kind: Kind, object_id: str) -> NotFound:
    return NotFound(f"No {_NAMES[kind]} found with id '{object_id}'.")


def fetch(conn: Connection, kind: Kind, project: str, object_id: str, **parents: str) -> Json:
    """The object's body, or NotFound if it is not in this project (or not under `parents`)."""
    table = _TABLES[kind]
    query = select(table.c.body).where(table.c.project == project, table.c.id == object_id)
    for column, value in parents.items():
        query = query.where(table.c[column] == value)
    body = conn.execute(query).scalar_one_or_none()
    if body is None:
        raise _missing(kind, object_id)
    return dict(body)


def store(conn: Connection, kind: Kind, body: Json, **columns: Any) -> None:
    """Replace an existing object's body (and any extra columns)."""
    table = _TABLES[kind]
    conn.execute(update(table).where(table.c.id == body["id"]).values(body=body, **columns))


def steps_of(conn: Connection, project: str, thread_id: str, run_id: str) -> list[Json]:
    """A run's steps, oldest first (by the index on project, thread and run)."""
    rows = conn.execute(
        select(run_steps.c.body)
        .where(
            run_steps.c.project == project,
            run_steps.c.thread_id == thread_id,
            run_steps.c.run_id == run_id,
        )
        .order_by(run_steps.c.seq)
    ).scalars()
    return [dict(body) for body in rows]


def messages_of(conn: Connection, project: str, thread_id: str) -> list[Json]:
    """A thread's messages, oldest first (by the index on project and thread)."""
    rows = conn.execute(
        select(thread_messages.c.body)
        .where(thread_messages.c.project == project, thread_messages.c.thread_id == thread_id)
        .order_by(thread_messages.c.seq)
    ).scalars()
    return [dict(body) for body in rows]


def active_run(conn: Connection, project: str, thread_id: str) -> str | None:
    return conn.execute(
        select(runs.c.id)
        .where(
            runs.c.project == project,
            runs.c.thread_id == thread_id,
            runs.c.status.in_(ACTIVE),
        )
        .limit(1)
    ).scalar_one_or_none()


class AgentStore:
    """CRUD and paging for the API; the run engine has its own operations in `ferry.runs`."""

    def __init__(self, database: Database, clock: Clock = system_clock) -> None:
        self.database = database
        self.clock = clock

    def now(self) -> int:
        """Unix seconds, as the objects carry them."""
        return self.clock() // 1000

    async def insert(self, kind: Kind, project: str, body: Json, **columns: Any) -> Json:
        table = _TABLES[kind]

        def work(conn: Connection) -> Json:
            for column in ("thread_id",):
                if column in columns and kind != "thread":
                    fetch(conn, "thread", project, columns[column])
            conn.execute(
                table.insert().values(project=project, id=body["id"], body=body, **columns)
            )
            return body

        return await self.database.write(work)

    async def get(self, kind: Kind, project: str, object_id: str, **parents: str) -> Json:
        return await self.database.read(
            lambda conn: fetch(conn, kind, project, object_id, **parents)
        )

    async def modify(
        self,
        kind: Kind,
        project: str,
        object_id: str,
        change: Callable[[Connection, Json], Json],
        **parents: str,
    ) -> Json:
        """Read, change and store one object in one transaction."""

        def work(conn: Connection) -> Json:
            body = change(conn, fetch(conn, kind, project, object_id, **parents))
            store(conn, kind, body)
            return body

        return await self.database.write(work)

    async def delete_assistant(self, project: str, assistant_id: str) -> None:
        def work(conn: Connection) -> None:
            fetch(conn, "assistant", project, assistant_id)
            conn.execute(delete(assistants).where(assistants.c.id == assistant_id))

        await self.database.write(work)

    async def delete_thread(self, project: str, thread_id: str) -> None:
        """The thread with its messages, runs and steps; queue calls still waiting are
        cancelled, so their late answers are recognised and dropped."""

        def work(conn: Connection) -> None:
            fetch(conn, "thread", project, thread_id)
            run_ids = select(runs.c.id).where(runs.c.thread_id == thread_id).scalar_subquery()
            conn.execute(
                update(queue_calls)
                .where(queue_calls.c.run_id.in_(run_ids), queue_calls.c.state == "pending")
                .values(state="cancelled")
            )
            for table in (run_steps, runs, thread_messages):
                conn.execute(delete(table).where(table.c.thread_id == thread_id))
            conn.execute(delete(agent_threads).where(agent_threads.c.id == thread_id))

        await self.database.write(work)

    async def page(
        self,
        kind: Kind,
        project: str,
        *,
        limit: int,
        order: str,
        after: str | None,
        before: str | None,
        filters: Sequence[tuple[str, str]] = (),
        parent: tuple[Kind, str] | None = None,
    ) -> Page:
        """One page in `seq` order. An `after`/`before` id that is not in the list gives an
        empty page, so a client that pages by `last_id` always stops."""
        table = _TABLES[kind]

        def work(conn: Connection) -> Page:
            if parent is not None:
                fetch(conn, parent[0], project, parent[1])
            query = select(table.c.body).where(table.c.project == project)
            for column, value in filters:
                query = query.where(table.c[column] == value)
            descending = order == "desc"
            for cursor, newer in ((after, not descending), (before, descending)):
                if cursor is None:
                    continue
                seq = conn.execute(
                    query.with_only_columns(table.c.seq).where(table.c.id == cursor)
                ).scalar_one_or_none()
                if seq is None:
                    return Page([], False)
                query = query.where(table.c.seq > seq if newer else table.c.seq < seq)
            query = query.order_by(table.c.seq.desc() if descending else table.c.seq)
            rows = [dict(b) for b in conn.execute(query.limit(limit + 1)).scalars()]
            return Page(rows[:limit], len(rows) > limit)

        return await self.database.read(work)

    async def count(self, kind: Kind, project: str) -> int:
        table = _TABLES[kind]
        return await self.database.read(
            lambda conn: int(
                conn.execute(
                    select(func.count()).select_from(table).where(table.c.project == project)
                ).scalar_one()
            )
        )

    async def run_in_transaction(self, work: Callable[[Connection], Json]) -> Json:
        return await self.database.write(work)

    def raise_if_busy(self, conn: Connection, project: str, thread_id: str, doing: str) -> None:
        run_id = active_run(conn, project, thread_id)
        if run_id is not None:
            raise BadRequest(f"Can't {doing} {thread_id} while a run {run_id} is active.")
