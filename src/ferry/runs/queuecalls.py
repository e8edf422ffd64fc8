"""`azure_function` tool calls over storage queues: the message sent, and the answers taken.

The message put on the input queue satisfies every generation of public samples: the call's
arguments at the top level (the seed's function reads `payload['location']`), the same under
`function_args`, and `CorrelationId` and `OutputQueueUri`; base64-encoded, as the Functions
queue trigger expects. The function answers on the output queue with `{"Value", "CorrelationId"}`.

`AnswerCollector` consumes every output queue some pending call waits on. An answer is
recorded once by CorrelationId; a duplicate or late one is recorded as such and removed; a
message with an unknown or missing CorrelationId is left for other consumers until its
dequeue count runs out, then moved to `<queue>-poison`, never dropped silently.

Each queue's receive loop is a `ferry.queues.consumer.QueueConsumer`, as the functions host's
trigger's is. When the queue is in the store this process holds, on the ledger's database, an
answer is recorded and its message deleted in one transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable

from sqlalchemy import Connection

from ferry.queues.consumer import DELETE, SETTLED, Delivery, QueueConsumer, Verdict, retry
from ferry.queues.encoding import decode_body, encode_body
from ferry.queues.errors import QueueEndpointError
from ferry.queues.locator import QueueLocator
from ferry.runs.calls import Outcome
from ferry.runs.ledger import Ledger
from ferry.tracing import TRACEPARENT
from ferry.types import Json

__all__ = ["AnswerCollector", "encode_call", "parse_answer"]

log = logging.getLogger(__name__)

MAX_DEQUEUE = 5
"""Deliveries of a message nobody recognises before it goes to the poison queue."""
_VISIBILITY = 30
_UNKNOWN_RETRY = 2
"""Seconds an unrecognised message stays hidden before other consumers may see it."""
_BATCH = 32
_STOP_GRACE = 1.0
"""Seconds answers being recorded get at shutdown before their messages are given back."""


def encode_call(
    arguments: Json, correlation_id: str, output_url: str, traceparent: str | None = None
) -> str:
    """`traceparent` (only when tracing is on) lets the functions host continue the trace;
    functions need not read it."""
    payload = {
        **arguments,
        "function_args": arguments,
        "CorrelationId": correlation_id,
        "OutputQueueUri": output_url,
    }
    if traceparent is not None:
        payload[TRACEPARENT] = traceparent
    return encode_body(json.dumps(payload).encode())


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
        raw = decode_body(text)
        try:
            body = _json_object(raw.decode("utf-8")) if raw is not None else None
        except UnicodeDecodeError:
            body = None
        if body is None:
            return None, None
    correlation = body.get("CorrelationId")
    if not isinstance(correlation, str) or not correlation:
        return None, None
    value = body.get("Value")
    output = value if isinstance(value, str) else json.dumps(value)
    return correlation, output


class AnswerCollector:
    """One `QueueConsumer` per output queue that has calls waiting on it."""

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
        self._running: dict[tuple[str, str], QueueConsumer] = {}
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._supervise(), name="ferry-answer-collector")

    def calls_sent(self) -> None:
        """New calls wait on some output queue: look at once rather than at the next refresh."""
        self._changed.set()

    async def stop(self) -> None:
        """Take no more answers; those being recorded get a moment, then their messages are
        made visible again (for whoever collects next)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await asyncio.gather(*(c.stop(_STOP_GRACE) for c in self._running.values()))
        tasks = list(self._consumers.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._consumers.clear()
        self._running.clear()

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
        except QueueEndpointError as exc:
            log.warning("cannot reach output queue %s/%s: %s", url, queue, exc)
            return
        # On the ledger's own database an answer's message is deleted with its record.
        local = self.locator.local_for(url, database=self.ledger.database)

        async def waited_on() -> bool:
            return (url, queue) in await self.ledger.waiting_outputs()

        async def settle(delivery: Delivery) -> Verdict:
            message = delivery.message
            correlation, output = parse_answer(message.text)
            if correlation is not None and output is not None:

                def remove(conn: Connection, outcome: Outcome) -> None:
                    if local is not None and outcome.outcome != "unknown":
                        local.delete_within(conn, queue, message)

                answer = await self.ledger.record_answer(
                    correlation, output, dequeue_count=message.dequeue_count, also=remove
                )
                if answer.outcome == "answered":
                    self.wake()
                if answer.outcome != "unknown":  # recorded now, or a duplicate or late one
                    return SETTLED if local is not None else DELETE
            return retry(_UNKNOWN_RETRY, "it has no CorrelationId of a pending call")

        consumer = QueueConsumer(
            endpoint,
            queue,
            settle,
            batch_size=_BATCH,
            new_batch_threshold=0,  # settle a batch (its writes share a commit), then receive
            hold=_VISIBILITY,
            min_poll=0.05,
            max_poll=1.0,
            max_deliveries=MAX_DEQUEUE,
            keep_going=waited_on,
            label=f"answers on {url}",
            log=log,
        )
        self._running[(url, queue)] = consumer
        try:
            await consumer.run()
        finally:
            if self._running.get((url, queue)) is consumer:
                del self._running[(url, queue)]
