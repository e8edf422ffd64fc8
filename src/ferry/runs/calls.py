"""Tool calls' records: the one place a call's state is kept and changed.

A call is recorded (state `pending`) in the commit that records the step that made it. An
`azure_function` call's message is put on its input queue in that same transaction when the
queue is Ferry's own, or right after it otherwise (`sent_at` says which happened; a crash in
between re-sends). Its answer is recorded once, by CorrelationId: the output becomes an item
of the run and the call `answered`, in one transaction that also wakes the run. A `function`
call is answered by the client the same way. Every other state is final, so a late or repeated
answer changes nothing but a counter and the timeline.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Row, bindparam, case, insert, or_, select, update

from ferry.runs.items import insert_items
from ferry.runs.records import output_item
from ferry.runs.status import LIVE, CallState
from ferry.store.schema import items, run_events, runs, tool_calls
from ferry.types import Json

__all__ = ["Act", "Answer", "Call", "Outcome", "answer_call", "calls_of", "put_event"]

# Statements every tool call runs, built once (see `ferry.runs.ledger`).
_CALLS = select(tool_calls).outerjoin(items, items.c.id == tool_calls.c.id)
_CALLS_OF_RUN = _CALLS.where(tool_calls.c.run_id == bindparam("b_run")).order_by(
    tool_calls.c.created_at, items.c.seq
)
_CALLS_OF_RUNS = _CALLS.where(
    tool_calls.c.run_id.in_(bindparam("b_runs", expanding=True))
).order_by(tool_calls.c.created_at, items.c.seq)
_ADD_CALL = insert(tool_calls)
_ADD_EVENT = insert(run_events)
_ANSWERED = (
    select(tool_calls.c.id)
    .where(
        tool_calls.c.id.in_(bindparam("b_ids", expanding=True)),
        tool_calls.c.state == CallState.ANSWERED,
    )
    .limit(1)
)
_ANSWER = (
    update(tool_calls)
    .where(tool_calls.c.id == bindparam("b_id"), tool_calls.c.state == CallState.PENDING)
    .values(state=CallState.ANSWERED, answered_at=bindparam("b_now"))
)
_BY_CORRELATION = (
    select(tool_calls, runs.c.conversation_id)
    .join(runs, runs.c.id == tool_calls.c.run_id)
    .where(tool_calls.c.correlation_id == bindparam("b_correlation"))
)
_WAKE = (
    update(runs)
    .where(runs.c.id == bindparam("b_run"), runs.c.status.in_(list(LIVE)))
    .values(
        wake_at=case(
            (
                or_(runs.c.wake_at.is_(None), runs.c.wake_at > bindparam("b_now")),
                bindparam("b_now"),
            ),
            else_=runs.c.wake_at,
        )
    )
)


class Act(StrEnum):
    """Where a pending call of a tool that acts stands (its `payload`)."""

    APPROVAL = "approval"
    """Waits for the user's approval."""
    APPROVED = "approved"
    REFUSED = "refused"
    STARTED = "started"
    """Handed to the tool: a worker that finds it so after a crash tells the model."""


@dataclass
class Call:
    id: str
    """The call item's id."""
    run_id: str
    step_id: str
    call_id: str
    kind: str
    """The tool's type: `function` (the client answers) or `azure_function` (queues)."""
    name: str
    state: str
    created_at: int
    deadline: int | None = None
    answered_at: int | None = None
    correlation_id: str | None = None
    input_url: str | None = None
    input_queue: str | None = None
    output_url: str | None = None
    output_queue: str | None = None
    payload: str | None = None
    sent_at: int | None = None
    late_answers: int = 0

    @property
    def queued(self) -> bool:
        return self.correlation_id is not None

    @property
    def for_client(self) -> bool:
        """Whether it waits on the client: a function's output, or the user's approval."""
        return self.kind == "function" or self.payload == Act.APPROVAL

    def row(self, project: str) -> Json:
        return {
            "id": self.id,
            "project": project,
            "run_id": self.run_id,
            "step_id": self.step_id,
            "call_id": self.call_id,
            "kind": self.kind,
            "name": self.name,
            "state": self.state,
            "created_at": self.created_at,
            "deadline": self.deadline,
            "answered_at": self.answered_at,
            "correlation_id": self.correlation_id,
            "input_url": self.input_url,
            "input_queue": self.input_queue,
            "output_url": self.output_url,
            "output_queue": self.output_queue,
            "payload": self.payload,
            "sent_at": self.sent_at,
            "late_answers": self.late_answers,
        }


def _call(row: Row[Any]) -> Call:
    return Call(
        id=row.id,
        run_id=row.run_id,
        step_id=row.step_id,
        call_id=row.call_id,
        kind=row.kind,
        name=row.name,
        state=row.state,
        created_at=row.created_at,
        deadline=row.deadline,
        answered_at=row.answered_at,
        correlation_id=row.correlation_id,
        input_url=row.input_url,
        input_queue=row.input_queue,
        output_url=row.output_url,
        output_queue=row.output_queue,
        payload=row.payload,
        sent_at=row.sent_at,
        late_answers=row.late_answers,
    )


def calls_of(conn: Connection, run_ids: Sequence[str]) -> list[Call]:
    """The calls of these runs, in the order they were made."""
    if not run_ids:
        return []
    if len(run_ids) == 1:
        rows = conn.execute(_CALLS_OF_RUN, {"b_run": run_ids[0]})
    else:
        rows = conn.execute(_CALLS_OF_RUNS, {"b_runs": list(run_ids)})
    return [_call(row) for row in rows]


def insert_calls(conn: Connection, project: str, calls: Iterable[Call]) -> None:
    rows = [call.row(project) for call in calls]
    if rows:
        conn.execute(_ADD_CALL, rows)
    for call in calls:
        if call.sent_at is not None:  # put in this same transaction (Ferry's own queues)
            put_event(conn, call.run_id, call.correlation_id or "", call.sent_at)


def put_event(conn: Connection, run_id: str, correlation_id: str, at: int) -> None:
    conn.execute(
        _ADD_EVENT,
        {
            "run_id": run_id,
            "at": at,
            "kind": "queue.put",
            "detail": {"correlation_id": correlation_id},
        },
    )


def update_calls(conn: Connection, changed: Iterable[Call]) -> None:
    """Store the state, answer time and payload of calls the engine carried forward (a call
    that acts: started, answered)."""
    for call in changed:
        conn.execute(
            update(tool_calls)
            .where(tool_calls.c.id == call.id)
            .values(state=call.state, answered_at=call.answered_at, payload=call.payload)
        )


def close_calls(conn: Connection, run_id: str, state: CallState) -> None:
    """Every call of the run still pending ends as `state` (timed_out, cancelled, …)."""
    conn.execute(
        update(tool_calls)
        .where(tool_calls.c.run_id == run_id, tool_calls.c.state == CallState.PENDING)
        .values(state=state)
    )


def any_answered(conn: Connection, ids: Sequence[str]) -> bool:
    """Whether any of these calls has been answered (perhaps after the run was read)."""
    if not ids:
        return False
    return conn.execute(_ANSWERED, {"b_ids": list(ids)}).first() is not None


@dataclass(frozen=True)
class Outcome:
    outcome: str
    """"answered" (recorded now), "late" (the call had already ended) or "unknown"."""
    run_id: str | None = None


@dataclass(frozen=True)
class Answer:
    """An output for a pending call: stored as an item of `run_id` (the call's own run, or
    the v2 run that carries the client's outputs as its input)."""

    call: Call
    output: str
    run_id: str
    step_id: str | None
    conversation_id: str | None


def answer_call(conn: Connection, project: str, answer: Answer, now: int) -> Json | None:
    """Record one output: the call answered and its output item stored, in the caller's
    transaction. None if the call is no longer pending (nothing is written)."""
    changed = conn.execute(_ANSWER, {"b_id": answer.call.id, "b_now": now}).rowcount
    if not changed:
        return None
    item = output_item(answer.call.call_id, answer.output, answer.call.kind, now // 1000)
    insert_items(
        conn,
        project,
        [item],
        conversation_id=answer.conversation_id,
        run_id=answer.run_id,
        step_id=answer.step_id,
    )
    return item


def wake_run(conn: Connection, run_id: str, now: int) -> None:
    """Bring the run's `wake_at` to now if it is later. Always an update of the run's row,
    even when it is already due: that takes the row's lock, so a worker committing the run
    meanwhile (which locks it too) either sees the answer or has `wake_at` brought forward
    after it."""
    conn.execute(_WAKE, {"b_run": run_id, "b_now": now})


def record_queue_answer(
    conn: Connection, correlation_id: str, output: str, dequeue_count: int, now: int
) -> Outcome:
    """A function's answer by CorrelationId: recorded once; a second one, or one after the
    call ended, is counted as late and changes nothing else."""
    row = conn.execute(_BY_CORRELATION, {"b_correlation": correlation_id}).one_or_none()
    if row is None:
        return Outcome("unknown")
    call = _call(row)
    detail = {"correlation_id": correlation_id, "dequeue_count": dequeue_count}
    answer = Answer(call, output, call.run_id, call.step_id, row.conversation_id)
    if answer_call(conn, row.project, answer, now) is None:
        conn.execute(
            update(tool_calls)
            .where(tool_calls.c.id == call.id)
            .values(late_answers=tool_calls.c.late_answers + 1)
        )
        conn.execute(
            insert(run_events).values(
                run_id=call.run_id,
                at=now,
                kind="queue.late_answer",
                detail={**detail, "state": call.state},
            )
        )
        return Outcome("late", call.run_id)
    wake_run(conn, call.run_id, now)
    conn.execute(
        _ADD_EVENT, {"run_id": call.run_id, "at": now, "kind": "queue.answered", "detail": detail}
    )
    return Outcome("answered", call.run_id)


def mark_sent(conn: Connection, correlation_id: str, run_id: str, now: int) -> None:
    marked = conn.execute(
        update(tool_calls)
        .where(tool_calls.c.correlation_id == correlation_id, tool_calls.c.sent_at.is_(None))
        .values(sent_at=now)
    )
    if marked.rowcount:  # a put repeated after a restart is not a second event
        put_event(conn, run_id, correlation_id, now)


def waiting_outputs(conn: Connection) -> set[tuple[str, str]]:
    """The output queues (service URL, queue) that some pending call waits on."""
    rows = conn.execute(
        select(tool_calls.c.output_url, tool_calls.c.output_queue)
        .where(tool_calls.c.state == CallState.PENDING, tool_calls.c.correlation_id.is_not(None))
        .distinct()
    )
    return {(r.output_url, r.output_queue) for r in rows}
