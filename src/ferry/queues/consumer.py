"""One queue's consumer: the receive loop the functions host's queue trigger and the run
core's answer collector share, so that both wake, back off, hide and poison alike.

It receives up to `batch_size` messages at a time, hidden for `hold` seconds, and hands each
to the owner's handler in a task of its own (so their writes can share a group commit); it
receives again once no more than `new_batch_threshold` are still being handled. An empty
receive waits before the next one: until the endpoint's arrivals event says a message came
(Ferry's own store), else an exponential back-off from `min_poll` to `max_poll` seconds.

The handler decides each message's fate with a `Verdict`: delete it; leave it to the handler,
which already removed it in a transaction of its own (`SETTLED`); make it visible again after
some seconds (`retry`; on the `max_deliveries`-th delivery it is poisoned instead); or move it
to `<queue>-poison` (`poison`). A handler that raises leaves its message hidden until the
hold ends, when it is delivered again. `stop` receives no more, gives handlers a grace period,
then makes the messages of those still running visible again at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

from ferry.queues.endpoint import QueueEndpoint, Received
from ferry.queues.errors import QueueEndpointError

__all__ = [
    "DELETE",
    "SETTLED",
    "Delivery",
    "Handler",
    "QueueConsumer",
    "Verdict",
    "poison",
    "retry",
]

T = TypeVar("T")


@dataclass(frozen=True)
class Verdict:
    """What becomes of a handled message."""

    action: Literal["delete", "settled", "retry", "poison"]
    seconds: int = 0
    """For `retry`: how long it stays hidden first."""
    why: str = ""
    """For `poison` (and a `retry` that runs out of deliveries): the reason logged."""


DELETE = Verdict("delete")
"""Done: the consumer deletes it."""
SETTLED = Verdict("settled")
"""Done, and already deleted by the handler (with its own writes, in one transaction)."""


def retry(seconds: int, why: str = "") -> Verdict:
    """Visible again after `seconds`; poisoned instead when its deliveries are used up."""
    return Verdict("retry", seconds, why)


def poison(why: str) -> Verdict:
    """Moved to `<queue>-poison` at once."""
    return Verdict("poison", 0, why)


class Delivery:
    """A message being handled. `message` is its latest form: renewing the hold gives it a
    new pop receipt, which a delete or a release must use."""

    def __init__(self, consumer: QueueConsumer, message: Received) -> None:
        self.consumer = consumer
        self.message = message

    async def hidden_while(self, work: Awaitable[T]) -> T:
        """Await `work`, renewing the message's hold at half time so that nobody else
        receives it meanwhile; cancelling this cancels `work`."""
        consumer = self.consumer
        task = asyncio.ensure_future(work)
        try:
            while not (await asyncio.wait([task], timeout=consumer.hold / 2))[0]:
                try:
                    renewed = await consumer.endpoint.hide(
                        consumer.queue, self.message, consumer.hold
                    )
                except QueueEndpointError as exc:
                    consumer.log.warning(
                        "%s: cannot keep message %s hidden: %s",
                        consumer.label,
                        self.message.id,
                        exc,
                    )
                    continue
                if renewed is not None:
                    self.message = renewed
        except asyncio.CancelledError:
            task.cancel()
            raise
        return task.result()


Handler = Callable[[Delivery], Awaitable[Verdict]]


class QueueConsumer:
    def __init__(
        self,
        endpoint: QueueEndpoint,
        queue: str,
        handle: Handler,
        *,
        batch_size: int = 16,
        new_batch_threshold: int = 8,
        hold: int = 600,
        min_poll: float = 0.1,
        max_poll: float = 60.0,
        max_deliveries: int = 5,
        keep_going: Callable[[], Awaitable[bool]] | None = None,
        label: str = "",
        log: logging.Logger | None = None,
    ) -> None:
        """`keep_going`, if given, is asked after each empty receive; False ends `run`
        (the answer collector stops once no call waits on the queue)."""
        self.endpoint = endpoint
        self.queue = queue
        self.poison_queue = f"{queue}-poison"
        self.handle = handle
        self.batch_size = batch_size
        self.new_batch_threshold = new_batch_threshold
        self.hold = hold
        self.min_poll = min_poll
        self.max_poll = max_poll
        self.max_deliveries = max_deliveries
        self.keep_going = keep_going
        self.label = label or f"queue '{queue}'"
        self.log = log or logging.getLogger(__name__)
        self.in_flight: dict[asyncio.Task[None], Delivery] = {}
        self.stopping = asyncio.Event()
        self._loop_done = asyncio.Event()
        self._loop_done.set()
        self._arrivals: asyncio.Event | None = None

    async def run(self) -> None:
        """Receive and hand out until `stop()` (or `keep_going` says no); a receive that
        fails is logged and counts as an empty one."""
        self._loop_done.clear()
        try:
            await self._loop()
        finally:
            self._loop_done.set()

    async def _loop(self) -> None:
        delay = self.min_poll
        arrivals = self._arrivals = self.endpoint.arrivals(self.queue)
        while not self.stopping.is_set():
            if len(self.in_flight) > self.new_batch_threshold:
                await self._either(list(self.in_flight), None)
                continue
            if arrivals is not None:
                arrivals.clear()  # before the receive: a put landing after it still wakes us
            try:
                batch = await self.endpoint.receive(self.queue, self.batch_size, self.hold)
            except QueueEndpointError as exc:
                self.log.warning(
                    "%s: cannot read queue '%s' on %s: %s",
                    self.label,
                    self.queue,
                    self.endpoint.name,
                    exc,
                )
                batch = []
            if batch and self.stopping.is_set():
                # stop() came while this receive was under way: give the messages back now
                # rather than leave them hidden for the whole hold.
                await self._release(batch)
                return
            if batch:
                delay = self.min_poll
                for message in batch:
                    delivery = Delivery(self, message)
                    task = asyncio.create_task(self._deliver(delivery))
                    self.in_flight[task] = delivery
                    task.add_done_callback(self._finished)
                continue
            if self.keep_going is not None and not await self.keep_going():
                return
            await self._either([], delay, arrivals)
            delay = min(delay * 2, self.max_poll)
            if arrivals is not None and arrivals.is_set():
                delay = self.min_poll

    async def _either(
        self,
        tasks: list[asyncio.Task[None]],
        timeout: float | None,
        arrivals: asyncio.Event | None = None,
    ) -> None:
        """Wait until one of `tasks` ends, `arrivals` is set, `stop()` is called or
        `timeout` passes, whichever is first."""
        waiters = [asyncio.ensure_future(self.stopping.wait())]
        if arrivals is not None:
            waiters.append(asyncio.ensure_future(arrivals.wait()))
        try:
            await asyncio.wait(
                [*tasks, *waiters], timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for waiter in waiters:
                waiter.cancel()

    def _finished(self, task: asyncio.Task[None]) -> None:
        self.in_flight.pop(task, None)

    async def stop(self, grace: float) -> None:
        """Receive no more; let handlers finish within `grace` seconds, then make the
        messages of those still running visible again so that nothing is lost."""
        self.stopping.set()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        # A receive under way is let finish (cancelling it could lose its answer, leaving its
        # messages hidden for the whole hold); the loop then hands out or releases them.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._loop_done.wait(), timeout=max(grace, 1.0))
        while self.in_flight:
            left = deadline - loop.time()
            if left <= 0:
                break
            await asyncio.wait(list(self.in_flight), timeout=left)
        still = list(self.in_flight.items())
        for task, _delivery in still:
            task.cancel()
        await self._release([delivery.message for _task, delivery in still])

    async def _release(self, messages: list[Received]) -> None:
        """Make messages visible again at once, for another consumer to take."""
        for message in messages:
            with contextlib.suppress(Exception):
                await self.endpoint.hide(self.queue, message, 0)

    async def _deliver(self, delivery: Delivery) -> None:
        try:
            verdict = await self.handle(delivery)
            await self._settle(delivery.message, verdict)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the owner's code: logged; the hold's end retries it
            self.log.error("%s: message handling failed: %s", self.label, exc)

    async def _settle(self, message: Received, verdict: Verdict) -> None:
        if verdict.action == "delete":
            await self.endpoint.delete(self.queue, message)
        elif verdict.action == "poison":
            await self._poison(message, verdict.why)
        elif verdict.action == "retry":
            if message.dequeue_count >= self.max_deliveries:
                why = verdict.why or f"it has reached MaxDequeueCount of {self.max_deliveries}"
                await self._poison(message, why)
                return
            await self.endpoint.hide(self.queue, message, verdict.seconds)
            if verdict.seconds and self._arrivals is not None:  # look again when it reappears
                asyncio.get_running_loop().call_later(verdict.seconds, self._arrivals.set)

    async def _poison(self, message: Received, why: str) -> None:
        self.log.warning(
            "%s: moving message %s to queue '%s' because %s.",
            self.label,
            message.id,
            self.poison_queue,
            why,
        )
        await self.endpoint.put(self.poison_queue, message.text)
        await self.endpoint.delete(self.queue, message)
