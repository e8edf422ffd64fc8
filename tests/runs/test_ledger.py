"""The run ledger against both stores: an answer recorded while the run is leased is never
slept through (the worker's commit keeps the run awake instead of sleeping to the deadline),
a cancel that comes while a worker holds the run is kept, and a worker that lost its lease
writes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ferry.agents.classic.requests import AssistantCreate, ThreadAndRunCreate
from ferry.agents.classic.service import ClassicService
from ferry.agents.store import AgentStore
from ferry.runs.calls import Call
from ferry.runs.errors import LeaseLost
from ferry.runs.ledger import Change, Ledger, RunState
from ferry.runs.records import call_item, step_record
from ferry.runs.status import CallState, RunStatus
from ferry.store import Database
from ferry.store.schema import runs

FAR = 10**15


async def _leased_run_with_call(database: Database, ledger: Ledger) -> tuple[RunState, Call]:
    service = ClassicService(AgentStore(database))
    agent = await service.create_assistant("p", AssistantCreate(model="m"))
    created = await service.create_thread_and_run("p", ThreadAndRunCreate(assistant_id=agent["id"]))
    run = created.run
    assert await ledger.claim(10, 60_000) == [run["id"]]
    state = await ledger.load(run["id"])
    assert state is not None and state.status == RunStatus.QUEUED
    step = step_record("tool_calls", 0)
    call = Call(
        id="fc_1",
        run_id=run["id"],
        step_id=step["id"],
        call_id="call_1",
        kind="azure_function",
        name="GetWeather",
        state=CallState.PENDING,
        created_at=0,
        deadline=FAR,
        correlation_id="c-1",
        input_url="http://127.0.0.1:1/devstoreaccount1",
        input_queue="input",
        output_url="http://127.0.0.1:1/devstoreaccount1",
        output_queue="output",
        payload="{}",
    )
    item = call_item("call_1", "GetWeather", "{}", "azure_function", 0)
    item.update(id=call.id, step_id=step["id"])
    change = Change(
        RunStatus.IN_PROGRESS, FAR, release=False, new_steps=[step], items=[item], calls=[call]
    )
    await ledger.commit(state, change)
    return state, call


def _wake_at(database: Database, run_id: str) -> int | None:
    return database.read_sync(
        lambda conn: conn.execute(select(runs.c.wake_at).where(runs.c.id == run_id)).scalar()
    )


async def test_an_answer_that_came_while_leased_keeps_the_run_awake(database: Database) -> None:
    ledger = Ledger(database, "worker-1")
    state, call = await _leased_run_with_call(database, ledger)
    answer = await ledger.record_answer("c-1", "sunny", dequeue_count=1)
    assert answer.outcome == "answered"
    # The worker read the run before the answer; it now goes to wait until the deadline.
    await ledger.commit(state, Change(RunStatus.IN_PROGRESS, FAR, release=True, waiting=[call.id]))
    wake_at = _wake_at(database, state.id)
    assert wake_at is not None and wake_at < FAR
    assert await ledger.claim(10, 60_000) == [state.id]
    again = await ledger.load(state.id)
    assert again is not None
    assert [c.state for c in again.calls] == [CallState.ANSWERED]
    outputs = [i for i in again.own if i["type"] == "function_call_output"]
    assert [(o["call_id"], o["output"]) for o in outputs] == [("call_1", "sunny")]


async def test_with_no_answer_the_run_sleeps_to_its_deadline(database: Database) -> None:
    ledger = Ledger(database, "worker-1")
    state, call = await _leased_run_with_call(database, ledger)
    await ledger.commit(state, Change(RunStatus.IN_PROGRESS, FAR, release=True, waiting=[call.id]))
    assert _wake_at(database, state.id) == FAR
    assert await ledger.claim(10, 60_000) == []


async def test_a_second_answer_is_late_and_changes_nothing(database: Database) -> None:
    ledger = Ledger(database, "worker-1")
    state, call = await _leased_run_with_call(database, ledger)
    first = await ledger.record_answer("c-1", "sunny", dequeue_count=1)
    second = await ledger.record_answer("c-1", "rainy", dequeue_count=1)
    unknown = await ledger.record_answer("nobody", "x", dequeue_count=1)
    assert (first.outcome, second.outcome, unknown.outcome) == ("answered", "late", "unknown")
    await ledger.commit(state, Change(RunStatus.IN_PROGRESS, FAR, release=True, waiting=[call.id]))
    assert await ledger.claim(10, 60_000) == [state.id]
    again = await ledger.load(state.id)
    assert again is not None
    assert [i["output"] for i in again.own if i["type"] == "function_call_output"] == ["sunny"]
    assert again.calls[0].late_answers == 1


async def test_a_cancel_that_came_meanwhile_is_kept(database: Database) -> None:
    ledger = Ledger(database, "worker-1")
    state, _call = await _leased_run_with_call(database, ledger)
    database.write_sync(lambda conn: ledger.cancel(conn, state.id, 0))
    stored = await ledger.commit(state, Change(RunStatus.IN_PROGRESS, FAR, release=True))
    assert stored == RunStatus.CANCELLING
    wake_at = _wake_at(database, state.id)
    assert wake_at is not None and wake_at < FAR


async def test_a_worker_that_lost_its_lease_writes_nothing(database: Database) -> None:
    ledger = Ledger(database, "worker-1")
    state, _call = await _leased_run_with_call(database, ledger)
    thief = Ledger(database, "worker-2")
    database.write_sync(
        lambda conn: conn.execute(
            runs.update().where(runs.c.id == state.id).values(lease_owner="worker-2")
        )
    )
    with pytest.raises(LeaseLost):
        await ledger.commit(state, Change(RunStatus.COMPLETED, None, release=True))
    assert await thief.load(state.id) is not None
