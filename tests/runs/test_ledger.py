"""The run ledger against both stores: an answer recorded while the run is leased is never
slept through (the worker's commit keeps the run awake instead of sleeping to the deadline)."""

from __future__ import annotations

from sqlalchemy import select

from ferry.agents.requests import AssistantCreate, ThreadAndRunCreate
from ferry.agents.service import AgentService
from ferry.agents.store import AgentStore
from ferry.runs.ledger import Ledger, QueueCall
from ferry.store import Database
from ferry.store.schema import runs

FAR = 10**15


async def _leased_run_with_call(database: Database, ledger: Ledger) -> tuple[dict, str]:
    service = AgentService(AgentStore(database))
    agent = await service.create_assistant("p", AssistantCreate(model="m"))
    run = await service.create_thread_and_run("p", ThreadAndRunCreate(assistant_id=agent["id"]))
    assert await ledger.claim(10, 60_000) == [run["id"]]
    call = QueueCall(
        correlation_id="c-1",
        run_id=run["id"],
        step_id="step_1",
        call_id="call_1",
        tool="GetWeather",
        input_url="http://127.0.0.1:1/devstoreaccount1",
        input_queue="input",
        output_url="http://127.0.0.1:1/devstoreaccount1",
        output_queue="output",
        payload="{}",
        state="pending",
        deadline=FAR,
    )
    await ledger.commit(
        run, wake_at=FAR, release=False, also=lambda conn: Ledger.add_calls(conn, "p", [call], 0)
    )
    return run, call.correlation_id


def _wake_at(database: Database, run_id: str) -> int | None:
    return database.read_sync(
        lambda conn: conn.execute(select(runs.c.wake_at).where(runs.c.id == run_id)).scalar()
    )


async def test_an_answer_that_came_while_leased_keeps_the_run_awake(database: Database) -> None:
    ledger = Ledger(database, "worker-1")
    run, correlation_id = await _leased_run_with_call(database, ledger)
    answer = await ledger.record_answer(correlation_id, "sunny", dequeue_count=1)
    assert answer.outcome == "answered"
    # The worker read the run before the answer; it now goes to wait until the deadline.
    await ledger.commit(
        run,
        wake_at=FAR,
        release=True,
        also=lambda conn: Ledger.any_answered(conn, [correlation_id]),
    )
    wake_at = _wake_at(database, run["id"])
    assert wake_at is not None and wake_at < FAR
    assert await ledger.claim(10, 60_000) == [run["id"]]


async def test_with_no_answer_the_run_sleeps_to_its_deadline(database: Database) -> None:
    ledger = Ledger(database, "worker-1")
    run, correlation_id = await _leased_run_with_call(database, ledger)
    await ledger.commit(
        run,
        wake_at=FAR,
        release=True,
        also=lambda conn: Ledger.any_answered(conn, [correlation_id]),
    )
    assert _wake_at(database, run["id"]) == FAR
    assert await ledger.claim(10, 60_000) == []
