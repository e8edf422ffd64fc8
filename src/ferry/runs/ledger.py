"""The only writer of runs, their steps, tool calls, timelines and stream news.

Two kinds of callers. The APIs start, cancel, answer and delete runs inside their own
transactions, with the functions here that take a connection (so a run starts in the same
transaction as the messages it reads, and a cancel is checked against the state it changes).
The engine works a run only under a lease (`lease_owner`, `lease_until`), and every write it
makes is one `Change` passed to `commit`, which first checks that the lease is still this
worker's: a worker that stalled past its lease cannot overwrite the work of the one that took
over. `wake_at` says when a run next needs the engine: now (new, answered, cancelled), at a
tool call's deadline, at the run's expiry, or never (finished, or waiting on a client).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection, bindparam, delete, func, insert, or_, select, update

from ferry.clock import Clock, system_clock
from ferry.runs import calls as callbook
from ferry.runs.calls import Act, Answer, Call, Outcome
from ferry.runs.errors import CallNotPending, LeaseLost
from ferry.runs.items import insert_items, item_from_row, update_items
from ferry.runs.status import LIVE, CallState, RunStatus
from ferry.store import Database
from ferry.store.schema import items, run_events, run_news, run_steps, runs, tool_calls
from ferry.store.signals import RUNS, signals_for
from ferry.types import Json

__all__ = ["Change", "Ledger", "RunState"]

# The statements of every run's path, built once: building one costs more than running it
# (and a statement object built once keeps its cache key).
_RUN = select(runs).where(runs.c.id == bindparam("b_run"))
_STEPS = (
    select(run_steps.c.body)
    .where(run_steps.c.run_id == bindparam("b_run"))
    .order_by(run_steps.c.seq)
)
_OWN = select(items).where(items.c.run_id == bindparam("b_run")).order_by(items.c.seq)
_HELD = (
    select(runs.c.lease_owner, runs.c.status, runs.c.body)
    .where(runs.c.id == bindparam("b_run"))
    .with_for_update()
)
_SET_RUN = update(runs).where(runs.c.id == bindparam("b_run"))
"""Executed with the columns to set as parameters."""
_ADD_RUN = insert(runs)
_ADD_EVENT = insert(run_events)
_ADD_STEP = insert(run_steps)
_SET_STEP = update(run_steps).where(run_steps.c.id == bindparam("b_step"))
_CONVERSATION = select(items).where(
    items.c.project == bindparam("b_project"),
    items.c.conversation_id == bindparam("b_conversation"),
    or_(items.c.run_id.is_(None), items.c.run_id != bindparam("b_run")),
)
_UP_TO_HORIZON = _CONVERSATION.where(items.c.seq <= bindparam("b_horizon")).order_by(items.c.seq)
_CONVERSATION = _CONVERSATION.order_by(items.c.seq)
_CHAIN = (
    select(items)
    .where(items.c.run_id.in_(bindparam("b_chain", expanding=True)))
    .order_by(items.c.seq)
)


@dataclass
class RunState:
    """What the engine knows of a run it holds: read once per lease, then kept up to date
    by each change it commits."""

    project: str
    id: str
    api: str
    status: RunStatus
    conversation_id: str | None
    run: Json
    """The run's body (settings, times, usage, …)."""
    context: list[Json]
    """Items the run sees before its own: earlier conversation items, or the items of the
    runs it follows (`previous_run_id`), oldest first."""
    own: list[Json]
    """Items of this run (the client's inputs, then what it made), oldest first."""
    steps: list[Json]
    calls: list[Call]
    news: int | None
    """The next stream news number, or None when the run's stream is not logged."""


@dataclass
class Change:
    """Everything one commit writes for a run, applied in one transaction."""

    status: RunStatus
    wake_at: int | None
    release: bool
    new_steps: list[Json] = field(default_factory=list)
    steps: list[Json] = field(default_factory=list)
    """Steps already stored whose body changed."""
    items: list[Json] = field(default_factory=list)
    """New items of the run (each with its `step_id`)."""
    calls: list[Call] = field(default_factory=list)
    close_calls: CallState | None = None
    """Every call still pending ends in this state."""
    events: list[tuple[str, Json]] = field(default_factory=list)
    news: list[Json] = field(default_factory=list)
    """Stream news, already numbered from `RunState.news`."""
    waiting: list[str] = field(default_factory=list)
    """Calls this commit waits on: if any was answered since the run was read, it wakes now."""
    also: Callable[[Connection], None] | None = None
    """Another part's write in the same transaction (queue puts on Ferry's own queues)."""
    done_items: list[Json] = field(default_factory=list)
    """Items of the run already stored whose body changed (a call carried out: its output)."""
    updated_calls: list[Call] = field(default_factory=list)
    """Calls already stored whose state, answer time or payload changed."""


class Ledger:
    def __init__(self, database: Database, owner: str, clock: Clock = system_clock) -> None:
        self.database = database
        self.owner = owner
        self.clock = clock
        self.postgres = database.name == "postgres"
        self.signals = signals_for(database)

    # For the APIs, inside their transactions ----------------------------------------------

    def start(
        self,
        conn: Connection,
        project: str,
        run_id: str,
        body: Json,
        *,
        api: str,
        conversation_id: str | None,
        previous_run_id: str | None,
        now: int,
        news: Sequence[Json] | None,
    ) -> None:
        """A new run, due now. `news` (possibly empty) logs its stream; None does not."""
        conn.execute(
            _ADD_RUN,
            {
                "project": project,
                "id": run_id,
                "api": api,
                "conversation_id": conversation_id,
                "previous_run_id": previous_run_id,
                "status": RunStatus.QUEUED,
                "wake_at": now,
                "news": None if news is None else len(news),
                "body": body,
            },
        )
        _log_news(conn, run_id, 0, news or ())
        conn.execute(_ADD_EVENT, {"run_id": run_id, "at": now, "kind": "run.queued", "detail": {}})
        self.signals.announce(conn, RUNS, run_id)

    def cancel(self, conn: Connection, run_id: str, now: int) -> None:
        """The client asks the run to stop; the engine ends it (and its calls) as cancelled."""
        conn.execute(
            update(runs)
            .where(runs.c.id == run_id, runs.c.status.in_(list(LIVE)))
            .values(status=RunStatus.CANCELLING, wake_at=now)
        )
        self.signals.announce(conn, RUNS, run_id)

    def answer(
        self,
        conn: Connection,
        project: str,
        answers: Sequence[Answer],
        now: int,
        *,
        requeue: str | None,
    ) -> list[Json]:
        """The client's outputs for pending `function` calls. With `requeue` (a classic run
        in requires_action), that run is queued again, due now. Returns the output items."""
        stored = []
        for answer in answers:
            item = callbook.answer_call(conn, project, answer, now)
            if item is None:
                raise CallNotPending(f"the tool call '{answer.call.call_id}' has already ended")
            stored.append(item)
        if requeue is not None:
            self._requeue(conn, requeue, now)
        return stored

    def _requeue(self, conn: Connection, run_id: str, now: int) -> None:
        """A classic run in requires_action has its answers: queued again, due now."""
        conn.execute(
            update(runs).where(runs.c.id == run_id).values(status=RunStatus.QUEUED, wake_at=now)
        )
        self.signals.announce(conn, RUNS, run_id)

    def approve(
        self,
        conn: Connection,
        decisions: Sequence[tuple[Call, bool, dict[str, str] | None]],
        now: int,
        *,
        requeue: str | None,
    ) -> None:
        """The user's approvals of calls waiting for one: each approved (with headers to
        send, if given) or refused. The engine carries them out (or tells the model of the
        refusal) when the run is next worked: `requeue` queues it again, due now."""
        for call, approve, headers in decisions:
            changed = conn.execute(
                update(tool_calls)
                .where(
                    tool_calls.c.id == call.id,
                    tool_calls.c.state == CallState.PENDING,
                    tool_calls.c.payload == Act.APPROVAL,
                )
                .values(payload=Act.APPROVED if approve else Act.REFUSED)
            ).rowcount
            if not changed:
                raise CallNotPending(f"the tool call '{call.call_id}' is not waiting for approval")
            if headers:
                body = conn.execute(select(items.c.body).where(items.c.id == call.id)).scalar()
                update_items(
                    conn, [{**dict(body or {}), "id": call.id, "approval_headers": headers}]
                )
        if requeue is not None:
            self._requeue(conn, requeue, now)

    @staticmethod
    def settle_request(conn: Connection, call: Call, approve: bool, now: int) -> None:
        """A v2 approval request answered in a later response: the request ends here (the
        later response makes the call, or tells the model of the refusal)."""
        changed = conn.execute(
            update(tool_calls)
            .where(
                tool_calls.c.id == call.id,
                tool_calls.c.state == CallState.PENDING,
                tool_calls.c.payload == Act.APPROVAL,
            )
            .values(
                state=CallState.ANSWERED,
                answered_at=now,
                payload=Act.APPROVED if approve else Act.REFUSED,
            )
        ).rowcount
        if not changed:
            raise CallNotPending(f"the approval request '{call.id}' has already been answered")

    @staticmethod
    def set_metadata(conn: Connection, run_id: str, metadata: dict[str, str]) -> None:
        """The client's metadata: the one part of a run's body a client writes (a worker's
        commit keeps it, see `commit`)."""
        body = conn.execute(
            select(runs.c.body).where(runs.c.id == run_id).with_for_update()
        ).scalar_one()
        conn.execute(
            update(runs).where(runs.c.id == run_id).values(body={**body, "metadata": metadata})
        )

    @staticmethod
    def delete(conn: Connection, run_ids: Sequence[str], *, keep_items: bool = False) -> None:
        """Runs with everything they made; calls still waiting end as cancelled first, so
        their late answers are recognised and dropped. With `keep_items`, items that are
        also a conversation's stay with it."""
        if not run_ids:
            return
        ids = list(run_ids)
        conn.execute(
            update(tool_calls)
            .where(tool_calls.c.run_id.in_(ids), tool_calls.c.state == CallState.PENDING)
            .values(state=CallState.CANCELLED)
        )
        for table in (run_steps, run_events, run_news):
            conn.execute(delete(table).where(table.c.run_id.in_(ids)))
        made = delete(items).where(items.c.run_id.in_(ids))
        if keep_items:
            made = made.where(items.c.conversation_id.is_(None))
        conn.execute(made)
        conn.execute(delete(runs).where(runs.c.id.in_(ids)))

    # For the engine ------------------------------------------------------------------------

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

    async def status(self, run_id: str) -> RunStatus | None:
        """The run's stored status (a client's cancel shows here first)."""

        def work(conn: Connection) -> RunStatus | None:
            found = conn.execute(select(runs.c.status).where(runs.c.id == run_id)).scalar()
            return None if found is None else RunStatus(found)

        return await self.database.read(work)

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

    async def load(self, run_id: str) -> RunState | None:
        """The run, if this worker still holds it."""

        def work(conn: Connection) -> RunState | None:
            given = {"b_run": run_id}
            row = conn.execute(_RUN, given).one_or_none()
            if row is None or row.lease_owner != self.owner:
                return None
            body = dict(row.body)
            steps = [dict(b) for b in conn.execute(_STEPS, given).scalars()]
            own = [item_from_row(r) for r in conn.execute(_OWN, given)]
            return RunState(
                project=row.project,
                id=row.id,
                api=row.api,
                status=RunStatus(row.status),
                conversation_id=row.conversation_id,
                run=body,
                context=_context(conn, row.project, row.conversation_id, run_id, body),
                own=own,
                steps=steps,
                calls=callbook.calls_of(conn, [run_id]),
                news=row.news,
            )

        return await self.database.read(work)

    async def commit(self, state: RunState, change: Change) -> RunStatus:
        """Store `change` if this worker still holds the run's lease; bring `state` up to
        date. Returns the status stored: a client's cancel that came meanwhile is kept, unless
        this change ends the run."""
        now = self.clock()
        stored = await self.database.write(lambda conn: self._write(conn, state, change, now))
        state.status = stored
        state.steps = _merged(state.steps, change.new_steps, change.steps)
        state.own.extend({**i, "run_id": state.id} for i in change.items)
        if change.done_items:
            done = {item["id"]: item for item in change.done_items}
            state.own = [
                {**done[i["id"]], "run_id": state.id} if i["id"] in done else i for i in state.own
            ]
        state.calls.extend(change.calls)
        if change.close_calls is not None:
            for call in state.calls:
                if call.state == CallState.PENDING:
                    call.state = change.close_calls
        if change.news:
            state.news = change.news[-1]["number"] + 1
        return stored

    def _write(self, conn: Connection, state: RunState, change: Change, now: int) -> RunStatus:
        # The row lock orders this commit against an answer being recorded for the run
        # (which wakes it): on PostgreSQL, without it, an answer committed between the
        # `any_answered` check below and this update was overwritten by `wake_at` and the
        # run slept to its deadline. (SQLite has one writer: there is nothing to order.)
        held = conn.execute(_HELD, {"b_run": state.id}).one_or_none()
        if held is None or held.lease_owner != self.owner:
            raise LeaseLost(f"run {state.id} is no longer leased by {self.owner}")
        state.run["metadata"] = held.body.get("metadata") or {}
        status, wake_at = change.status, change.wake_at
        if held.status == RunStatus.CANCELLING and status in LIVE:
            status, wake_at = RunStatus.CANCELLING, now
        if change.also is not None:
            change.also(conn)
        _write_steps(conn, state, change)
        insert_items(
            conn,
            state.project,
            change.items,
            conversation_id=state.conversation_id,
            run_id=state.id,
        )
        callbook.insert_calls(conn, state.project, change.calls)
        update_items(conn, change.done_items)
        callbook.update_calls(conn, change.updated_calls)
        if change.close_calls is not None:
            callbook.close_calls(conn, state.id, change.close_calls)
        if callbook.any_answered(conn, change.waiting):
            wake_at = now
        values: Json = {"body": state.run, "status": status, "wake_at": wake_at}
        if change.release:
            values.update(lease_owner=None, lease_until=None)
        if change.news:
            values["news"] = change.news[-1]["number"] + 1
            _log_news(conn, state.id, None, change.news)
        conn.execute(_SET_RUN, {"b_run": state.id, **values})
        if change.events:
            conn.execute(
                _ADD_EVENT,
                [
                    {"run_id": state.id, "at": now, "kind": kind, "detail": detail}
                    for kind, detail in change.events
                ],
            )
        self.signals.announce(conn, RUNS, state.id)
        return status

    async def mark_sent(self, correlation_id: str, run_id: str) -> None:
        now = self.clock()
        await self.database.write(
            lambda conn: callbook.mark_sent(conn, correlation_id, run_id, now)
        )

    async def record_answer(
        self,
        correlation_id: str,
        output: str,
        *,
        dequeue_count: int,
        also: Callable[[Connection, Outcome], None] | None = None,
    ) -> Outcome:
        """Record a function's answer once and wake its run (see `calls.record_queue_answer`).
        `also` runs in the same transaction, told the outcome: the answer collector deletes
        the answer's message there when it is on this database (one write, not two)."""
        now = self.clock()

        def work(conn: Connection) -> Outcome:
            outcome = callbook.record_queue_answer(conn, correlation_id, output, dequeue_count, now)
            if outcome.outcome == "answered" and outcome.run_id is not None:
                self.signals.announce(conn, RUNS, outcome.run_id)
            if also is not None:
                also(conn, outcome)
            return outcome

        return await self.database.write(work)

    async def waiting_outputs(self) -> set[tuple[str, str]]:
        return await self.database.read(callbook.waiting_outputs)

    async def events(self, run_id: str) -> list[Json]:
        def work(conn: Connection) -> list[Json]:
            rows = conn.execute(
                select(run_events.c.at, run_events.c.kind, run_events.c.detail)
                .where(run_events.c.run_id == run_id)
                .order_by(run_events.c.seq)
            )
            return [{"at": r.at, "kind": r.kind, **dict(r.detail)} for r in rows]

        return await self.database.read(work)


def _log_news(conn: Connection, run_id: str, first: int | None, news: Sequence[Json]) -> None:
    rows = []
    for index, item in enumerate(news):
        number = item["number"] if first is None else first + index
        rows.append({"run_id": run_id, "number": number, "body": {**item, "number": number}})
    if rows:
        conn.execute(insert(run_news), rows)


def _write_steps(conn: Connection, state: RunState, change: Change) -> None:
    if change.new_steps:
        conn.execute(
            _ADD_STEP,
            [
                {"project": state.project, "id": step["id"], "run_id": state.id, "body": step}
                for step in change.new_steps
            ],
        )
    for step in change.steps:
        conn.execute(_SET_STEP, {"b_step": step["id"], "body": step})


def _merged(steps: list[Json], new: list[Json], changed: list[Json]) -> list[Json]:
    by_id = {step["id"]: step for step in changed}
    return [by_id.get(step["id"], step) for step in steps] + new


def _context(
    conn: Connection, project: str, conversation_id: str | None, run_id: str, run: Json
) -> list[Json]:
    """The items a run sees before its own: its conversation's up to its horizon, or the
    chain of runs it follows, in order."""
    if conversation_id is not None:
        given = {"b_project": project, "b_conversation": conversation_id, "b_run": run_id}
        if run.get("horizon") is not None:
            rows = conn.execute(_UP_TO_HORIZON, {**given, "b_horizon": run["horizon"]})
        else:
            rows = conn.execute(_CONVERSATION, given)
        return [item_from_row(r) for r in rows]
    chain = run.get("chain") or []
    if not chain:
        return []
    return [item_from_row(r) for r in conn.execute(_CHAIN, {"b_chain": list(chain)})]
