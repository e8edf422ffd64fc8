"""The queue trigger, with the real host's listener semantics.

Messages are fetched in batches of `batchSize`; a new batch is fetched once no more than
`newBatchThreshold` are still running. An empty poll backs off exponentially from 100 ms to
`maxPollingInterval`, unless the endpoint can say when a message arrives (Ferry's own store),
in which case the wait ends at once. Received messages stay hidden for 10 minutes, renewed
while the function runs. Success deletes the message; failure makes it visible again after
`visibilityTimeout`, and on the `maxDequeueCount`-th failure moves it to `<queue>-poison`.
A body that is not valid base64 (with base64 encoding) goes to poison without a call.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
from typing import Any

from ferry.functions.conversion import Datum
from ferry.functions.hostconfig import QueueOptions
from ferry.functions.invoker import Invocation, Invoker
from ferry.functions.logs import host_log
from ferry.functions.outputs import OutputWriter, resolve_name
from ferry.functions.spec import FunctionSpec
from ferry.queues.endpoint import QueueEndpoint, Received

__all__ = ["QueueTrigger", "message_datum"]

HIDE_SECONDS = 600
"""How long a received message stays invisible while its function runs (renewed at half)."""
MIN_POLL = 0.1


def _iso(moment: Any) -> str:
    return str(moment.isoformat())


def message_datum(message: Received, body: bytes) -> tuple[Datum, dict[str, Datum]]:
    """The trigger data and metadata the real host sends the worker for a queue message."""
    try:
        datum = Datum(body.decode("utf-8"), "string")
    except UnicodeDecodeError:
        datum = Datum(body, "bytes")
    metadata = {
        "Id": Datum(message.id, "string"),
        "DequeueCount": Datum(message.dequeue_count, "int"),
        "InsertionTime": Datum(_iso(message.inserted_at), "string"),
        "ExpirationTime": Datum(_iso(message.expires_at), "string"),
        "NextVisibleTime": Datum(_iso(message.next_visible_at), "string"),
        "PopReceipt": Datum(message.pop_receipt, "string"),
    }
    if datum.type == "string":
        metadata["QueueTrigger"] = Datum(datum.value, "string")
    return datum, metadata


class QueueTrigger:
    def __init__(
        self,
        function: FunctionSpec,
        endpoint: QueueEndpoint,
        options: QueueOptions,
        invoker: Invoker,
        outputs: OutputWriter,
        *,
        hold: int = HIDE_SECONDS,
    ) -> None:
        self.function = function
        self.hold = hold
        self.endpoint = endpoint
        self.options = options
        self.invoker = invoker
        self.outputs = outputs
        queue = resolve_name(
            str(function.trigger.setting("queueName", "")), f"function '{function.name}'"
        )
        self.queue = queue.lower()
        self.poison = f"{self.queue}-poison"
        self.in_flight: dict[asyncio.Task[None], Received] = {}
        self.stopping = asyncio.Event()
        self._loop_done = asyncio.Event()
        self._loop_done.set()
        self._arrivals: asyncio.Event | None = None

    async def run(self) -> None:
        """Fetch and dispatch until `stop()`; transport errors are logged and retried."""
        self._loop_done.clear()
        try:
            await self._loop()
        finally:
            self._loop_done.set()

    async def _loop(self) -> None:
        delay = MIN_POLL
        arrivals = self._arrivals = self.endpoint.arrivals(self.queue)
        while not self.stopping.is_set():
            if len(self.in_flight) > self.options.new_batch_threshold:
                await asyncio.wait(
                    [*self.in_flight, asyncio.ensure_future(self.stopping.wait())],
                    return_when=asyncio.FIRST_COMPLETED,
                )
                continue
            if arrivals is not None:
                arrivals.clear()
            try:
                batch = await self.endpoint.receive(self.queue, self.options.batch_size, self.hold)
            except Exception as exc:
                host_log.warning(
                    "Function '%s': cannot read queue '%s' on %s: %s",
                    self.function.name,
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
                delay = MIN_POLL
                for message in batch:
                    task = asyncio.create_task(self._process(message))
                    self.in_flight[task] = message
                    task.add_done_callback(self._finished)
                continue
            await self._idle(arrivals, delay)
            delay = min(delay * 2, self.options.max_polling_interval)
            if arrivals is not None and arrivals.is_set():
                delay = MIN_POLL

    async def _idle(self, arrivals: asyncio.Event | None, delay: float) -> None:
        waiters = [asyncio.ensure_future(self.stopping.wait())]
        if arrivals is not None:
            waiters.append(asyncio.ensure_future(arrivals.wait()))
        try:
            await asyncio.wait(waiters, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    def _finished(self, task: asyncio.Task[None]) -> None:
        self.in_flight.pop(task, None)
        if not task.cancelled() and task.exception() is not None:
            host_log.error(
                "Function '%s': message handling failed: %s",
                self.function.name,
                task.exception(),
            )

    async def stop(self, grace: float) -> None:
        """Fetch no more; let running invocations finish within `grace` seconds, then make
        the messages of those still running visible again so that nothing is lost."""
        self.stopping.set()
        deadline = asyncio.get_running_loop().time() + grace
        # A receive under way is let finish (cancelling it could lose its answer, leaving its
        # messages hidden for the whole hold); the loop then dispatches or releases them.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._loop_done.wait(), timeout=max(grace, 1.0))
        while self.in_flight:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                break
            await asyncio.wait(list(self.in_flight), timeout=left)
        still = list(self.in_flight.items())
        for task, _message in still:
            task.cancel()
        await self._release([message for _task, message in still])

    async def _release(self, messages: list[Received]) -> None:
        """Make messages visible again at once, for another host to take."""
        for message in messages:
            with contextlib.suppress(Exception):
                await self.endpoint.hide(self.queue, message, 0)

    async def _process(self, message: Received) -> None:
        options = self.options
        if message.dequeue_count > options.max_dequeue_count:
            await self._poison(message, "it was dequeued more often than maxDequeueCount")
            return
        body = self._body(message)
        if body is None:
            await self._poison(message, "its body is not valid base64")
            return
        datum, metadata = message_datum(message, body)
        call = asyncio.create_task(
            self.invoker.invoke(
                self.function,
                datum,
                metadata,
                reason=f"New queue message detected on '{self.queue}'.",
                dequeue_count=message.dequeue_count,
                max_dequeue_count=options.max_dequeue_count,
            )
        )
        invocation, current = await self._renewing(call, message)
        if await self.outputs.settle(invocation):
            await self.endpoint.delete(self.queue, current)
        elif current.dequeue_count >= options.max_dequeue_count:
            await self._poison(
                current, f"it has reached MaxDequeueCount of {options.max_dequeue_count}"
            )
        else:
            delay = int(options.visibility_timeout)
            await self.endpoint.hide(self.queue, current, delay)
            if delay and self._arrivals is not None:  # look again when it reappears
                asyncio.get_running_loop().call_later(delay, self._arrivals.set)

    def _body(self, message: Received) -> bytes | None:
        """The message's bytes per `messageEncoding` (None: not valid base64)."""
        if self.options.message_encoding != "base64":
            return message.text.encode("utf-8")
        try:
            return base64.b64decode(message.text, validate=True)
        except (binascii.Error, ValueError):
            return None

    async def _renewing(
        self, call: asyncio.Task[Invocation], message: Received
    ) -> tuple[Invocation, Received]:
        """Wait for the call, keeping its message hidden while it runs (each renewal gives
        the message a new pop receipt)."""
        current = message
        try:
            while not (await asyncio.wait([call], timeout=self.hold / 2))[0]:
                renewed = await self.endpoint.hide(self.queue, current, self.hold)
                if renewed is not None:
                    current = renewed
                    task = asyncio.current_task()
                    if task is not None:
                        self.in_flight[task] = renewed
        except asyncio.CancelledError:
            call.cancel()
            raise
        return call.result(), current

    async def _poison(self, message: Received, why: str) -> None:
        host_log.warning(
            "Function '%s': moving message %s to queue '%s' because %s.",
            self.function.name,
            message.id,
            self.poison,
            why,
        )
        await self.endpoint.put(self.poison, message.text)
        await self.endpoint.delete(self.queue, message)
