"""The run engine's view of the database: leases, a run's state, queue calls, timelines.

A run is worked on only under a lease (`lease_owner`, `lease_until`). Every write the engine
makes goes through `commit`, which first checks that the lease is still this worker's, so a
worker that stalled past its lease cannot overwrite the work of the one that took over.
`wake_at` says when a run next needs the engine: now (new, answered, cancelled), at a tool
call's deadline, at the run's expiry, or never (finished, or waiting on a client).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, case, func, insert, or_, select, update

from ferry.agents.store import messages_of, steps_of, store
from ferry.clock import Clock, system_clock
from ferry.runs.errors import LeaseLost
from ferry.store import Database
from ferry.store.schema import (
    assistants,
    queue_calls,
    run_events,
    run_steps,
    runs,
    thread_messages,
)

__all__ = ["Answer", "Ledger", "QueueCall", "RunState"]

Json = dict[str, Any]


@dataclass
class QueueCall:
    correlation_id: str
    run_id: str
    step_id: str
    call_id: str
    tool: str
    input_url: str
    input_queue: str
    output_url: str
    output_queue: str
    payload: str
    state: str
    deadline: int
    sent_at: int | None = None
    answered_at: int | None = None
    output: str | None = None


@dataclass
class RunState:
    project: str
    run: Json
    assistant: Json | None
    messages: list[Json]
    """The thread's messages, oldest first."""
    steps: list[Json]
    """This run's steps, oldest first."""
    calls: list[QueueCall] = field(default_factory=list)


@dataclass(frozen=True)
class Answer:
    outcome: str
    """"answered" (recorded now), "late" (the call was already answered, timed out or
    cancelled) or "unknown" (no such CorrelationId)."""
    run_id: str | None = None


def _call(row: Any) -> QueueCall:
    return QueueCall(
        correlation_id=row.correlation_id,
        run_id=row.run_id,
        step_id=row.step_id,
        call_id=row.call_id,
        tool=row.tool,
        input_url=row.input_url,
        input_queue=row.input_queue,
        output_url=row.output_url,
        output_queue=row.output_queue,
        payload=row.payload,
        state=row.state,
        deadline=row.deadline,
        sent_at=row.sent_at,
        answered_at=row.answered_at,
        output=row.output,
    )


class Ledger:
    def __init__(self, database: Database, owner: str, clock: Clock = system_clock) -> None:
        self.database = database
        self.owner = owner
        self.clock = clock
        self.postgres = database.name == "postgres"

    # Leases --------------------------------------------------------------------------------

    async def claim(self, limit: int, lease_ms: int) -> list[str]:
        """Lease up to `limit` runs that need the engine now."""
        now = self.clock()

        def work(conn: Connection) -> list[str]:
            due = (
                select(runs.c.id)
                .where(
                    runs.c.wake_at <= now,
                    or_(runs.c.lease_until.is_(None), runs.c.lease_until < now),
                )
                .order_by(runs.c.wake_at)
                .limit(limit)
            )
            if self.postgres:
                due = due.with_for_update(skip_locked=True)
            ids = list(conn.execute(due).scalars())
            if ids:
                conn.execute(
                    update(runs)
                    .where(runs.c.id.in_(ids))
                    .values(lease_owner=self.owner, lease_until=now + lease_ms)
                )
            return ids

        return await self.database.write(work)

    async def renew(self, run_id: str, lease_ms: int) -> bool:
        now = self.clock()

        def work(conn: Connection) -> bool:
            result = conn.execute(
                update(runs)
                .where(runs.c.id == run_id, runs.c.lease_owner == self.owner)
                .values(lease_until=now + lease_ms)
            )
            return bool(result.rowcount)

        return await self.database.write(work)

    async def next_wake(self) -> int | None:
        """The earliest `wake_at` of a run not leased now, to know how long to sleep."""
        now = self.clock()
        return await self.database.read(
            lambda conn: conn.execute(
                select(func.min(runs.c.wake_at)).where(
                    runs.c.wake_at.is_not(None),
                    or_(runs.c.lease_until.is_(None), runs.c.lease_until < now),
                )
            ).scalar_one_or_none()
        )

    # A run's state -------------------------------------------------------------------------

    async def load(self, run_id: str) -> RunState | None:
        def work(conn: Connection) -> RunState | None:
            row = conn.execute(
                select(runs.c.project, runs.c.body, runs.c.lease_owner).where(runs.c.id == run_id)
            ).one_or_none()
            if row is None or row.lease_owner != self.owner:
                return None
            run = dict(row.body)
            assistant = conn.execute(
                select(assistants.c.body).where(assistants.c.id == run["assistant_id"])
            ).scalar_one_or_none()
            messages = messages_of(conn, row.project, run["thread_id"])
            steps = steps_of(conn, row.project, run["thread_id"], run_id)
            calls = conn.execute(select(queue_calls).where(queue_calls.c.run_id == run_id))
            return RunState(
                project=row.project,
                run=run,
                assistant=dict(assistant) if assistant else None,
                messages=messages,
                steps=steps,
                calls=[_call(c) for c in calls],
            )

        return await self.database.read(work)

    async def commit(
        self,
        run: Json,
        *,
        wake_at: int | None,
        release: bool,
        also: Callable[[Connection], bool | None] | None = None,
        events: Sequence[tuple[str, Json]] = (),
    ) -> None:
        """Store the run (and whatever `also` writes) if this worker still holds its lease.

        `release` ends the lease (the run waits for `wake_at`); otherwise it is kept. If `also`
        returns True (say, an answer it waits for came in meanwhile), the run wakes now."""
        now = self.clock()

        def work(conn: Connection) -> None:
            # The row lock orders this commit against an answer being recorded for the run
            # (which wakes it): on PostgreSQL, without it, an answer committed between the
            # `any_answered` check below and this update was overwritten by `wake_at` and the
            # run slept to its deadline. (SQLite has one writer: there is nothing to order.)
            held = conn.execute(
                select(runs.c.lease_owner, runs.c.body)
                .where(runs.c.id == run["id"])
                .with_for_update()
            ).one_or_none()
            if held is None or held.lease_owner != self.owner:
                raise LeaseLost(f"run {run['id']} is no longer leased by {self.owner}")
            # A client's cancel that arrived meanwhile is kept, unless this commit ends the run.
            if held.body["status"] == "cancelling" and run["status"] in (
                "in_progress",
                "requires_action",
                "queued",
            ):
                run["status"] = "cancelling"
                nonlocal wake_at
                wake_at = now
            if also is not None and also(conn):
                wake_at = now
            values: Json = {"body": run, "status": run["status"], "wake_at": wake_at}
            if release:
                values.update(lease_owner=None, lease_until=None)
            conn.execute(update(runs).where(runs.c.id == run["id"]).values(**values))
            for kind, detail in events:
                conn.execute(
                    insert(run_events).values(run_id=run["id"], at=now, kind=kind, detail=detail)
                )

        await self.database.write(work)

    # Queue calls ---------------------------------------------------------------------------

    @staticmethod
    def add_calls(conn: Connection, project: str, calls: list[QueueCall], now: int) -> None:
        for call in calls:
            conn.execute(
                insert(queue_calls).values(
                    correlation_id=call.correlation_id,
                    project=project,
                    run_id=call.run_id,
                    step_id=call.step_id,
                    call_id=call.call_id,
                    tool=call.tool,
                    input_url=call.input_url,
                    input_queue=call.input_queue,
                    output_url=call.output_url,
                    output_queue=call.output_queue,
                    payload=call.payload,
                    state="pending",
                    created_at=now,
                    sent_at=call.sent_at,
                    deadline=call.deadline,
                    late_answers=0,
                )
            )
            if call.sent_at is not None:  # put in this same transaction (Ferry's own queues)
                Ledger._put_event(conn, call.run_id, call.correlation_id, call.sent_at)

    @staticmethod
    def _put_event(conn: Connection, run_id: str, correlation_id: str, at: int) -> None:
        conn.execute(
            insert(run_events).values(
                run_id=run_id, at=at, kind="queue.put", detail={"correlation_id": correlation_id}
            )
        )

    @staticmethod
    def any_answered(conn: Connection, correlation_ids: Sequence[str]) -> bool:
        """Whether any of these calls has an answer recorded (by the collector, which may
        have done so after the run was read)."""
        if not correlation_ids:
            return False
        found = conn.execute(
            select(queue_calls.c.correlation_id)
            .where(
                queue_calls.c.correlation_id.in_(list(correlation_ids)),
                queue_calls.c.state == "answered",
            )
            .limit(1)
        ).first()
        return found is not None

    @staticmethod
    def close_calls(conn: Connection, run_id: str, state: str) -> None:
        """Mark every call of the run still pending as `state` (timed_out, cancelled, …)."""
        conn.execute(
            update(queue_calls)
            .where(queue_calls.c.run_id == run_id, queue_calls.c.state == "pending")
            .values(state=state)
        )

    async def mark_sent(self, correlation_id: str, run_id: str) -> None:
        now = self.clock()

        def work(conn: Connection) -> None:
            marked = conn.execute(
                update(queue_calls)
                .where(
                    queue_calls.c.correlation_id == correlation_id, queue_calls.c.sent_at.is_(None)
                )
                .values(sent_at=now)
            )
            if marked.rowcount:  # a put repeated after a restart is not a second event
                Ledger._put_event(conn, run_id, correlation_id, now)

        await self.database.write(work)

    async def record_answer(
        self, correlation_id: str, output: str, *, dequeue_count: int
    ) -> Answer:
        """Record a function's answer once; a second answer (or one after the call ended) is
        counted as late and changes nothing. The run is woken at once."""
        now = self.clock()

        def work(conn: Connection) -> Answer:
            row = conn.execute(
                select(queue_calls.c.run_id, queue_calls.c.state).where(
                    queue_calls.c.correlation_id == correlation_id
                )
            ).one_or_none()
            if row is None:
                return Answer("unknown")
            answered = conn.execute(
                update(queue_calls)
                .where(
                    queue_calls.c.correlation_id == correlation_id,
                    queue_calls.c.state == "pending",
                )
                .values(state="answered", answered_at=now, output=output)
            ).rowcount
            detail = {"correlation_id": correlation_id, "dequeue_count": dequeue_count}
            if not answered:
                conn.execute(
                    update(queue_calls)
                    .where(queue_calls.c.correlation_id == correlation_id)
                    .values(late_answers=queue_calls.c.late_answers + 1)
                )
                conn.execute(
                    insert(run_events).values(
                        run_id=row.run_id,
                        at=now,
                        kind="queue.late_answer",
                        detail={**detail, "state": row.state},
                    )
                )
                return Answer("late", row.run_id)
            # Always an update of the run's row, even when it is already due: that takes the
            # row's lock, so a worker committing the run meanwhile (which locks it too) either
            # sees this answer or has its `wake_at` brought forward here after it.
            conn.execute(
                update(runs)
                .where(
                    runs.c.id == row.run_id,
                    runs.c.status.in_(("in_progress", "requires_action", "queued")),
                )
                .values(
                    wake_at=case(
                        (or_(runs.c.wake_at.is_(None), runs.c.wake_at > now), now),
                        else_=runs.c.wake_at,
                    )
                )
            )
            conn.execute(
                insert(run_events).values(
                    run_id=row.run_id, at=now, kind="queue.answered", detail=detail
                )
            )
            return Answer("answered", row.run_id)

        return await self.database.write(work)

    async def waiting_outputs(self) -> set[tuple[str, str]]:
        """The output queues (service URL, queue) that some pending call waits on."""

        def work(conn: Connection) -> set[tuple[str, str]]:
            rows = conn.execute(
                select(queue_calls.c.output_url, queue_calls.c.output_queue)
                .where(queue_calls.c.state == "pending")
                .distinct()
            )
            return {(r.output_url, r.output_queue) for r in rows}

        return await self.database.read(work)

    async def events(self, run_id: str) -> list[Json]:
        def work(conn: Connection) -> list[Json]:
            rows = conn.execute(
                select(run_events.c.at, run_events.c.kind, run_events.c.detail)
                .where(run_events.c.run_id == run_id)
                .order_by(run_events.c.seq)
            )
            return [{"at": r.at, "kind": r.kind, **dict(r.detail)} for r in rows]

        return await self.database.read(work)

    @staticmethod
    def save_step(conn: Connection, project: str, step: Json, *, new: bool) -> None:
        if new:
            conn.execute(
                insert(run_steps).values(
                    project=project,
                    id=step["id"],
                    thread_id=step["thread_id"],
                    run_id=step["run_id"],
                    body=step,
                )
            )
        else:
            store(conn, "step", step)

    @staticmethod
    def save_message(conn: Connection, project: str, message: Json) -> None:
        conn.execute(
            insert(thread_messages).values(
                project=project,
                id=message["id"],
                thread_id=message["thread_id"],
                run_id=message["run_id"],
                body=message,
            )
        )
