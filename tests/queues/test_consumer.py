"""The queue consumer the functions trigger and the answer collector share, driven against
Ferry's own store in process (both backends): batches and the in-flight cap, wake-ups and
back-off, retries, poison, the hold kept while a message is handled, and a stop that gives
back what is still being handled."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from ferry.queues.arrivals import Arrivals
from ferry.queues.consumer import (
    DELETE,
    SETTLED,
    Delivery,
    QueueConsumer,
    Verdict,
    poison,
    retry,
)
from ferry.queues.encoding import decode_body, encode_body
from ferry.queues.endpoint import Received
from ferry.queues.endpoints.local import LocalEndpoint
from ferry.queues.store import QueueStore
from ferry.store import Database

pytestmark = pytest.mark.timeout(30)

A = "devstoreaccount1"
Q = "work"


class CountedEndpoint(LocalEndpoint):
    """The real local endpoint, counting its receives."""

    def __init__(self, store: QueueStore) -> None:
        super().__init__(store, A)
        self.receives = 0

    async def receive(self, queue: str, count: int, visibility_timeout: int) -> list[Received]:
        self.receives += 1
        return await super().receive(queue, count, visibility_timeout)


@pytest.fixture
def store(database: Database) -> QueueStore:
    """A store with wake-ups, as `ferry start` has."""
    return QueueStore(database, arrivals=Arrivals())


@pytest.fixture
def endpoint(store: QueueStore) -> CountedEndpoint:
    return CountedEndpoint(store)


Running = Callable[..., Awaitable[QueueConsumer]]


@pytest.fixture
async def running(endpoint: CountedEndpoint) -> AsyncIterator[Running]:
    """Start consumers on `endpoint`; all are stopped at the end."""
    started: list[tuple[QueueConsumer, asyncio.Task[None]]] = []

    async def start(
        handle: Callable[[Delivery], Awaitable[Verdict]],
        on: LocalEndpoint | None = None,
        **options: Any,
    ) -> QueueConsumer:
        consumer = QueueConsumer(on or endpoint, Q, handle, **options)
        started.append((consumer, asyncio.create_task(consumer.run())))
        return consumer

    yield start
    for consumer, task in started:
        await consumer.stop(0)
        await asyncio.wait_for(task, 5)


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def visible(store: QueueStore, queue: str = Q) -> list[str]:
    return [m.text for m in await store.peek_messages(A, queue, count=32)]


async def test_every_message_is_handled_and_deleted(
    store: QueueStore, endpoint: CountedEndpoint, running: Running
) -> None:
    for n in range(5):
        await endpoint.put(Q, f"m{n}")
    seen: list[str] = []

    async def handle(delivery: Delivery) -> Verdict:
        seen.append(delivery.message.text)
        return DELETE

    await running(handle, batch_size=2)

    async def all_deleted() -> bool:
        # Not "none visible": a message being handled is invisible until its delete lands.
        return len(seen) == 5 and (await store.get_queue(A, Q)).approximate_message_count == 0

    await eventually(all_deleted)
    assert sorted(seen) == [f"m{n}" for n in range(5)]
    assert not await visible(store)


async def test_a_new_batch_comes_once_no_more_than_the_threshold_are_running(
    endpoint: CountedEndpoint, running: Running
) -> None:
    for n in range(6):
        await endpoint.put(Q, f"m{n}")
    started: list[str] = []
    gates: dict[str, asyncio.Event] = {}

    async def handle(delivery: Delivery) -> Verdict:
        gate = gates[delivery.message.text] = asyncio.Event()
        started.append(delivery.message.text)
        await gate.wait()
        return DELETE

    await running(handle, batch_size=2, new_batch_threshold=1)
    await eventually(lambda: _true(len(started) == 2))
    await asyncio.sleep(0.3)
    assert len(started) == 2  # two running is more than the threshold: no receive
    gates[started[0]].set()
    await eventually(lambda: _true(len(started) == 4))  # one left running: a batch of two
    await asyncio.sleep(0.3)
    assert len(started) == 4
    for gate in list(gates.values()):
        gate.set()
    await eventually(lambda: _true(len(started) == 6))


async def _true(value: bool) -> bool:
    return value


async def test_a_put_wakes_an_idle_consumer_at_once(
    store: QueueStore, endpoint: CountedEndpoint, running: Running
) -> None:
    handled = asyncio.Event()

    async def handle(_delivery: Delivery) -> Verdict:
        handled.set()
        return DELETE

    await running(handle, min_poll=10, max_poll=30)
    await eventually(lambda: _true(endpoint.receives >= 1))
    await asyncio.sleep(0.2)
    receives = endpoint.receives
    started = time.monotonic()
    await endpoint.put(Q, "wake")
    await asyncio.wait_for(handled.wait(), 2)
    assert time.monotonic() - started < 1.0  # not the 10 s poll
    assert endpoint.receives <= receives + 2  # woken, not polling (PostgreSQL's NOTIFY: +1)


async def test_without_wake_ups_polls_back_off_to_the_maximum(
    database: Database, running: Running
) -> None:
    plain = CountedEndpoint(QueueStore(database))  # no arrivals: it must poll
    assert plain.arrivals(Q) is None

    async def handle(_delivery: Delivery) -> Verdict:
        return DELETE

    await running(handle, on=plain, min_poll=0.05, max_poll=0.4)
    await asyncio.sleep(1.6)
    # waits of 0.05, 0.1, 0.2, then 0.4 each: about 7 receives, far fewer than 1.6 / 0.05
    assert 4 <= plain.receives <= 10
    await plain.put(Q, "late")
    await eventually(lambda: _empty(plain.store), timeout=1.0)


async def _empty(store: QueueStore) -> bool:
    return (await store.get_queue(A, Q)).approximate_message_count == 0


async def test_retry_hides_the_message_and_looks_again_when_it_reappears(
    endpoint: CountedEndpoint, running: Running
) -> None:
    await endpoint.put(Q, "again")
    deliveries: list[tuple[int, float]] = []

    async def handle(delivery: Delivery) -> Verdict:
        deliveries.append((delivery.message.dequeue_count, time.monotonic()))
        return retry(1) if len(deliveries) == 1 else DELETE

    # A poll interval far above the retry: only the consumer's own wake-up brings it back.
    await running(handle, min_poll=10, max_poll=30)
    await eventually(lambda: _true(len(deliveries) == 2))
    (first, at), (second, later) = deliveries
    assert (first, second) == (1, 2)
    assert 0.9 <= later - at < 3


async def test_retries_that_run_out_go_to_poison(
    store: QueueStore, endpoint: CountedEndpoint, running: Running
) -> None:
    await endpoint.put(Q, "doomed")
    counts: list[int] = []

    async def handle(delivery: Delivery) -> Verdict:
        counts.append(delivery.message.dequeue_count)
        return retry(0)

    await running(handle, max_deliveries=3)
    await eventually(lambda: _poisoned(store, ["doomed"]))
    assert counts == [1, 2, 3]
    assert await visible(store) == []


async def _poisoned(store: QueueStore, expected: list[str]) -> bool:
    return await endpoint_texts(store, f"{Q}-poison") == expected


async def endpoint_texts(store: QueueStore, queue: str) -> list[str]:
    return [m.text for m in await LocalEndpoint(store, A).receive(queue, 32, 0)]


async def test_a_poison_verdict_moves_the_message_at_once(
    store: QueueStore, endpoint: CountedEndpoint, running: Running
) -> None:
    await endpoint.put(Q, "bad")

    async def handle(_delivery: Delivery) -> Verdict:
        return poison("it is bad")

    await running(handle)
    await eventually(lambda: _poisoned(store, ["bad"]))
    assert await visible(store) == []


async def test_the_hold_is_renewed_while_the_handler_works(
    store: QueueStore, endpoint: CountedEndpoint, running: Running
) -> None:
    await endpoint.put(Q, "slow")
    receipts: list[str] = []
    done = asyncio.Event()

    async def handle(delivery: Delivery) -> Verdict:
        receipts.append(delivery.message.pop_receipt)
        await delivery.hidden_while(asyncio.sleep(2.2))  # over twice the 1 s hold
        receipts.append(delivery.message.pop_receipt)
        done.set()
        return DELETE

    await running(handle, hold=1)
    for _ in range(4):
        await asyncio.sleep(0.5)
        assert await visible(store) == []  # never visible to anyone else meanwhile
    await asyncio.wait_for(done.wait(), 5)
    assert receipts[0] != receipts[1]  # renewed: the delete needs the latest receipt
    await eventually(lambda: _empty(store))


async def test_a_handler_that_fails_leaves_the_message_for_the_hold(
    store: QueueStore, endpoint: CountedEndpoint, running: Running
) -> None:
    await endpoint.put(Q, "flaky")
    counts: list[int] = []

    async def handle(delivery: Delivery) -> Verdict:
        counts.append(delivery.message.dequeue_count)
        if len(counts) == 1:
            raise RuntimeError("boom")
        return DELETE

    await running(handle, hold=1, min_poll=0.05, max_poll=0.2)
    await eventually(lambda: _true(counts == [1]))
    assert await visible(store) == []  # hidden until its hold ends
    await eventually(lambda: _empty(store), timeout=5)
    assert counts == [1, 2]


async def test_a_settled_message_is_left_to_the_handler(
    store: QueueStore, endpoint: CountedEndpoint, running: Running
) -> None:
    """The handler deletes the message in its own transaction, with its own writes."""
    await endpoint.put(Q, "mine")
    database = store.database

    async def handle(delivery: Delivery) -> Verdict:
        message = delivery.message
        await database.write(lambda conn: endpoint.delete_within(conn, Q, message))
        return SETTLED

    await running(handle)
    await eventually(lambda: _empty(store))


async def test_stop_gives_back_what_is_still_being_handled(
    store: QueueStore, endpoint: CountedEndpoint
) -> None:
    await endpoint.put(Q, "unfinished")
    began = asyncio.Event()

    async def handle(delivery: Delivery) -> Verdict:
        began.set()
        await delivery.hidden_while(asyncio.Event().wait())  # never ends by itself
        return DELETE

    consumer = QueueConsumer(endpoint, Q, handle)
    task = asyncio.create_task(consumer.run())
    await asyncio.wait_for(began.wait(), 5)
    assert await visible(store) == []
    await consumer.stop(grace=0.2)
    await asyncio.wait_for(task, 1)
    [message] = await store.peek_messages(A, Q, count=1)  # visible again, not after the hold
    assert (message.text, message.dequeue_count) == ("unfinished", 1)


async def test_keep_going_ends_the_loop_after_an_empty_receive(
    endpoint: CountedEndpoint,
) -> None:
    await endpoint.put(Q, "last")
    handled: list[str] = []

    async def handle(delivery: Delivery) -> Verdict:
        handled.append(delivery.message.text)
        return DELETE

    async def keep_going() -> bool:
        return False

    consumer = QueueConsumer(endpoint, Q, handle, new_batch_threshold=0, keep_going=keep_going)
    await asyncio.wait_for(consumer.run(), 5)
    assert handled == ["last"]


def test_bodies_are_base64_or_plain_text() -> None:
    assert encode_body(b"\x00\xffhi") == "AP9oaQ=="
    assert decode_body("AP9oaQ==") == b"\x00\xffhi"
    assert decode_body("not base64!") is None
    assert decode_body("aGk=\n") is None  # strict, as the host's decoder
    assert encode_body("été".encode(), "none") == "été"
    assert decode_body("not base64!", "none") == b"not base64!"
