"""`azure_function` tool calls over storage queues: the message sent, and the answers taken.

The message put on the input queue satisfies every generation of public samples: the call's
arguments at the top level (the seed's function reads `payload['location']`), the same under
`function_args`, and `CorrelationId` and `OutputQueueUri`; base64-encoded, as the Functions
queue trigger expects. The function answers on the output queue with `{"Value", "CorrelationId"}`.

`AnswerCollector` consumes every output queue some pending call waits on. An answer is
recorded once by CorrelationId; a duplicate or late one is recorded as such and removed; a
message with an unknown or missing CorrelationId is left for other consumers until its
dequeue count runs out, then moved to `<queue>-poison`, never dropped silently.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
from collections.abc import Callable

from ferry.queues.endpoint import QueueEndpoint, Received
from ferry.queues.locator import QueueLocator
from ferry.runs.ledger import Ledger
from ferry.types import Json

__all__ = ["AnswerCollector", "encode_call", "parse_answer"]

log = logging.getLogger(__name__)

MAX_DEQUEUE = 5
"""Deliveries of a message nobody recognises before it goes to the poison queue."""
_VISIBILITY = 30
_UNKNOWN_RETRY = 2
"""Seconds an unrecognised message stays hidden before other consumers may see it."""


def encode_call(arguments: Json, correlation_id: str, output_url: str) -> str:
    payload = {
        **arguments,
        "function_args": arguments,
        "CorrelationId": correlation_id,
        "OutputQueueUri": output_url,
    }
    return base64.b64encode(json.dumps(payload).encode()).decode("ascii")


def _json_object(text: str) -> Json | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def parse_answer(text: str) -> tuple[str | None, str | None]:
    """(CorrelationId, output) of an answer message, plain JSON or base64 of JSON."""
    body = _json_object(text)
    if body is None:
        try:
            decoded = base64.b64decode(text, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            return None, None
        body = _json_object(decoded)
        if body is None:
            return None, None
    correlation = body.get("CorrelationId")
    if not isinstance(correlation, str) or not correlation:
        return None, None
    value = body.get("Value")
    output = value if isinstance(value, str) else json.dumps(value)
    return correlation, output


class AnswerCollector:
    """One consumer task per output queue that has calls waiting on it."""

    def __init__(
        self,
        ledger: Ledger,
        locator: QueueLocator,
        wake: Callable[[], None],
        *,
        refresh: float = 1.0,
    ) -> None:
        self.ledger = ledger
        self.locator = locator
        self.wake = wake
        self.refresh = refresh
        self._consumers: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._supervise(), name="ferry-answer-collector")

    def calls_sent(self) -> None:
        """New calls wait on some output queue: look at once rather than at the next refresh."""
        self._changed.set()

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *self._consumers.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._consumers.clear()

    async def _supervise(self) -> None:
        while True:
            try:
                targets = await self.ledger.waiting_outputs()
            except Exception:
                log.exception("cannot read the pending queue calls")
                targets = set()
            for target in targets:
                task = self._consumers.get(target)
                if task is None or task.done():
                    self._consumers[target] = asyncio.create_task(
                        self._consume(*target), name=f"ferry-answers-{target[1]}"
                    )
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), self.refresh)

    async def _consume(self, url: str, queue: str) -> None:
        """Take answers from one queue until no call waits on it any more."""
        try:
            endpoint = self.locator.endpoint(url)
        except Exception as exc:
            log.warning("cannot reach output queue %s/%s: %s", url, queue, exc)
            return
        arrivals = endpoint.arrivals(queue)
        idle = 0.05
        while True:
            if arrivals is not None:
                arrivals.clear()
            try:
                messages = await endpoint.receive(queue, 32, _VISIBILITY)
            except Exception as exc:
                log.warning("receiving from %s/%s failed: %s", url, queue, exc)
                messages = []
                idle = 1.0
            # Together, so their writes share a commit rather than queue up one by one.
            settled = await asyncio.gather(
                *(self._settle(endpoint, queue, m) for m in messages), return_exceptions=True
            )
            for problem in settled:
                if isinstance(problem, Exception):
                    log.warning("settling an answer from %s/%s failed: %s", url, queue, problem)
            if messages:
                idle = 0.05
                continue
            if (url, queue) not in await self.ledger.waiting_outputs():
                return
            if arrivals is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(arrivals.wait(), 1.0)
            else:
                await asyncio.sleep(idle)
                idle = min(idle * 2, 1.0)

    async def _settle(self, endpoint: QueueEndpoint, queue: str, message: Received) -> None:
        correlation, output = parse_answer(message.text)
        if correlation is not None and output is not None:
            answer = await self.ledger.record_answer(
                correlation, output, dequeue_count=message.dequeue_count
            )
            if answer.outcome == "answered":
                self.wake()
            if answer.outcome != "unknown":
                await endpoint.delete(queue, message)
                return
        if message.dequeue_count >= MAX_DEQUEUE:
            log.warning(
                "message %s on %s has no CorrelationId of a pending call; moved to %s-poison",
                message.id,
                queue,
                queue,
            )
            await endpoint.put(f"{queue}-poison", message.text)
            await endpoint.delete(queue, message)
        else:
            await endpoint.hide(queue, message, _UNKNOWN_RETRY)
