"""A queue trigger stopped while a receive is under way (a redeploy's drain, SIGTERM).

The receive must be let finish and what it brought given back at once: cancelled, its
messages would already be dequeued on the server and stay hidden for the trigger's whole
hold (600 s). Found by the redeploy test in tests/deploy/test_lifecycle.py, where 2 of 300
messages were answered only 10 minutes late; here the timing is made certain with an endpoint
whose receive waits until the test lets it answer.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from ferry.functions.hostconfig import QueueOptions
from ferry.functions.triggers.queue import QueueTrigger
from ferry.queues.endpoint import Received


class HeldReceive:
    """Just enough of a queue endpoint: its receive answers only when told to."""

    name = "held"

    def __init__(self) -> None:
        self.receiving = asyncio.Event()
        self.answer = asyncio.Event()
        self.hidden: list[tuple[str, int]] = []

    def arrivals(self, _queue: str) -> None:
        return None

    async def receive(self, _queue: str, _count: int, _hold: int) -> list[Received]:
        self.receiving.set()
        await self.answer.wait()
        now = datetime.now(UTC)
        return [Received(f"m{i}", "receipt", 1, now, now, now, "aGk=") for i in range(2)]

    async def hide(self, _queue: str, message: Received, seconds: int) -> None:
        self.hidden.append((message.id, seconds))


def _trigger(endpoint: HeldReceive) -> QueueTrigger:
    function: Any = SimpleNamespace(
        name="Work", trigger=SimpleNamespace(setting=lambda _name, _default: "input")
    )
    return QueueTrigger(function, endpoint, QueueOptions(), invoker=None, outputs=None)  # type: ignore[arg-type]


async def test_stop_during_a_receive_gives_its_messages_back() -> None:
    endpoint = HeldReceive()
    trigger = _trigger(endpoint)
    loop = asyncio.create_task(trigger.run())
    await endpoint.receiving.wait()

    stopping = asyncio.create_task(trigger.stop(grace=5))
    await asyncio.sleep(0.05)
    assert not stopping.done()  # it waits for the receive rather than cutting it off

    endpoint.answer.set()
    await asyncio.wait_for(stopping, 5)
    assert endpoint.hidden == [("m0", 0), ("m1", 0)]  # visible again, for the next host
    assert loop.done() and loop.exception() is None


async def test_stop_when_idle_is_immediate() -> None:
    endpoint = HeldReceive()
    trigger = _trigger(endpoint)
    await asyncio.wait_for(trigger.stop(grace=5), 1)
    assert endpoint.hidden == []
