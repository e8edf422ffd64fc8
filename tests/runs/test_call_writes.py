"""What one `azure_function` call costs the database once its message is on the input queue:
the functions host takes it, calls the function and writes its answer, and the answer
collector records that answer, all in one process over one store (`ferry start`).

Every write transaction is counted (a unit handed to `Database.write`), except receives that
found nothing (idle polls, whose number depends on timing). With the store shared, the host's
output, the trigger message's deletion and the invocation's record are one transaction, and
so are an answer and its message's deletion: two receives and two writes, where it was two
receives and five writes.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from ferry.functions.connections import Connections
from ferry.functions.host import FunctionsHost
from ferry.functions.hostconfig import load_host_config
from ferry.functions.loader import load_app
from ferry.queues.arrivals import Arrivals
from ferry.queues.auth import Accounts
from ferry.queues.locator import LocalQueues, QueueLocator
from ferry.queues.store import QueueStore
from ferry.runs.ledger import Ledger
from ferry.runs.queuecalls import AnswerCollector, encode_call
from ferry.runs.status import CallState
from ferry.store import Database
from ferry.store.schema import function_invocations, tool_calls
from tests.runs.test_ledger import _leased_run_with_call

pytestmark = pytest.mark.timeout(60)

APP = Path(__file__).parent.parent / "apps" / "weather"
ACCOUNT = "devstoreaccount1"


class Counted:
    """Wraps `database.write`: the units that wrote, by the function that made them."""

    def __init__(self, database: Database) -> None:
        self.units: list[str] = []
        self.counting = False
        original = database.write

        async def write(work: Any) -> Any:
            result = await original(work)
            idle_poll = "get_messages" in work.__qualname__ and result == []
            if self.counting and not idle_poll:
                self.units.append(work.__qualname__.split(".<locals>")[0])
            return result

        database.write = write  # type: ignore[method-assign]


async def _answered(database: Database) -> bool:
    def work(conn: Any) -> bool:
        state = conn.execute(select(tool_calls.c.state)).scalar()
        recorded = conn.execute(select(function_invocations.c.id)).first()
        return state == CallState.ANSWERED and recorded is not None

    return await database.read(work)


async def test_one_call_round_trip_costs_two_receives_and_two_writes(
    database: Database, tmp_path: Path
) -> None:
    store = QueueStore(database, arrivals=Arrivals())
    locator = QueueLocator(LocalQueues(store, Accounts({})))
    connections = Connections(
        locator, environ={"AzureWebJobsStorage": "UseDevelopmentStorage=true"}
    )
    host = FunctionsHost(load_app(APP), load_host_config(APP), connections, database, tmp_path)
    ledger = Ledger(database, "worker-1")
    _state, call = await _leased_run_with_call(database, ledger)
    await store.create_queue(ACCOUNT, "output", {})  # as the engine ensures it with the call
    counted = Counted(database)
    collector = AnswerCollector(ledger, locator, lambda: None)
    await host.start()
    collector.start()
    try:
        text = encode_call({"location": "Paris"}, call.correlation_id or "", "unused")
        await database.write(lambda conn: store.put_within(conn, ACCOUNT, "input", text, ttl=60))
        counted.counting = True
        assert store.arrivals is not None
        store.arrivals.notify(ACCOUNT, "input")  # as the engine does once it has committed
        collector.calls_sent()
        for _ in range(200):
            if await _answered(database) and not await store.peek_messages(
                ACCOUNT, "output", count=1
            ):
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError(f"no answer recorded; writes so far: {counted.units}")
        await asyncio.sleep(0.3)  # anything still to come (a late delete) is counted too
    finally:
        counted.counting = False
        await collector.stop()
        await host.stop(grace=1)
    receives = [unit for unit in counted.units if "get_messages" in unit]
    writes = [unit for unit in counted.units if "get_messages" not in unit]
    assert len(receives) == 2, counted.units
    assert len(writes) == 2, counted.units
    assert not await store.peek_messages(ACCOUNT, "input", count=1)
