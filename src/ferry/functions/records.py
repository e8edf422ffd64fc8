"""Per-invocation records (start, duration, outcome, dequeue count), kept in the store."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, select

from ferry.store.database import Database
from ferry.store.schema import function_invocations

__all__ = ["InvocationRecord", "InvocationRecords"]

_t = function_invocations


@dataclass(frozen=True)
class InvocationRecord:
    id: str
    function: str
    trigger: str
    started_at: int
    duration_ms: int
    outcome: str  # "succeeded", "failed" or "timed_out"
    dequeue_count: int | None = None
    error: str | None = None
    correlation_id: str | None = None
    """The CorrelationId of the tool call whose message triggered it, if it carried one."""


class InvocationRecords:
    """Writes go through the database's group commit, so recording costs no extra fsync."""

    def __init__(self, database: Database) -> None:
        self.database = database

    async def add(self, record: InvocationRecord) -> None:
        await self.database.write(lambda conn: self.add_within(conn, record))

    @staticmethod
    def add_within(conn: Connection, record: InvocationRecord) -> None:
        """The record, in the caller's transaction: a queue trigger's commits with the
        invocation's outputs and its message's deletion."""
        values = {
            "id": record.id,
            "function": record.function,
            "trigger": record.trigger,
            "started_at": record.started_at,
            "duration_ms": record.duration_ms,
            "outcome": record.outcome,
            "dequeue_count": record.dequeue_count,
            "error": record.error[:4000] if record.error else None,
            "correlation_id": record.correlation_id,
        }
        conn.execute(_t.insert().values(**values))

    async def recent(self, function: str | None = None, limit: int = 100) -> list[InvocationRecord]:
        def work(conn: Connection) -> list[InvocationRecord]:
            query = select(_t).order_by(_t.c.started_at.desc()).limit(limit)
            if function is not None:
                query = query.where(_t.c.function == function)
            return [InvocationRecord(**row._mapping) for row in conn.execute(query)]

        return await self.database.read(work)
