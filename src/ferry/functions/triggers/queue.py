"""The queue trigger, with the real host's listener semantics.

Messages are fetched in batches of `batchSize`; a new batch is fetched once no more than
`newBatchThreshold` are still running. An empty poll backs off exponentially from 100 ms to
`maxPollingInterval`, unless the endpoint can say when a message arrives (Ferry's own store),
in which case the wait ends at once. Received messages stay hidden for 10 minutes, renewed
while the function runs. Success deletes the message; failure makes it visible again after
`visibilityTimeout`, and on the `maxDequeueCount`-th failure moves it to `<queue>-poison`.
A body that is not valid base64 (with base64 encoding) goes to poison without a call.

The loop itself is `ferry.queues.consumer.QueueConsumer`'s, shared with the answer collector.
When the queue is in the store this process holds, on the database invocation records go to,
a success's outputs, its message's deletion and its record are one transaction: the message
is never deleted without its outputs, and one write replaces three.
"""

from __future__ import annotations

import asyncio
from typing import Any

from opentelemetry.trace import StatusCode
from sqlalchemy import Connection

from ferry.functions.conversion import Datum
from ferry.functions.hostconfig import QueueOptions
from ferry.functions.invoker import Invocation, Invoker
from ferry.functions.logs import host_log
from ferry.functions.outputs import OutputWriter, resolve_name
from ferry.functions.spec import FunctionSpec
from ferry.queues.consumer import DELETE, SETTLED, Delivery, QueueConsumer, Verdict, poison, retry
from ferry.queues.correlation import correlation_of
from ferry.queues.encoding import decode_body
from ferry.queues.endpoint import QueueEndpoint, Received
from ferry.queues.endpoints.local import LocalEndpoint, on_database
from ferry.tracing import invocation_span

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
    """A thin user of `QueueConsumer`: it decides what each message becomes; the consumer
    receives, waits, hides and poisons."""

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
        self.consumer = QueueConsumer(
            endpoint,
            self.queue,
            self._handle,
            batch_size=options.batch_size,
            new_batch_threshold=options.new_batch_threshold,
            hold=hold,
            min_poll=MIN_POLL,
            max_poll=options.max_polling_interval,
            max_deliveries=options.max_dequeue_count,
            label=f"Function '{function.name}'",
            log=host_log,
        )
        self.poison = self.consumer.poison_queue

    @property
    def stopping(self) -> asyncio.Event:
        return self.consumer.stopping

    async def run(self) -> None:
        """Fetch and dispatch until `stop()`; transport errors are logged and retried."""
        await self.consumer.run()

    async def stop(self, grace: float) -> None:
        """Fetch no more; let running invocations finish within `grace` seconds, then make
        the messages of those still running visible again so that nothing is lost."""
        await self.consumer.stop(grace)

    async def _handle(self, delivery: Delivery) -> Verdict:
        options = self.options
        message = delivery.message
        if message.dequeue_count > options.max_dequeue_count:
            return poison("it was dequeued more often than maxDequeueCount")
        body = decode_body(message.text, options.message_encoding)
        if body is None:
            return poison("its body is not valid base64")
        with invocation_span(self.function.name, self.queue, body) as span:
            verdict, invocation = await self._invoke(delivery, body)
            if span is not None:
                span.set_attribute("faas.invocation_id", invocation.id)
                if not invocation.succeeded:
                    span.set_status(StatusCode.ERROR, (invocation.error or "")[:200])
            return verdict

    async def _invoke(self, delivery: Delivery, body: bytes) -> tuple[Verdict, Invocation]:
        message, options = delivery.message, self.options
        datum, metadata = message_datum(message, body)
        invocation = await delivery.hidden_while(
            self.invoker.invoke(
                self.function,
                datum,
                metadata,
                reason=f"New queue message detected on '{self.queue}'.",
                dequeue_count=message.dequeue_count,
                max_dequeue_count=options.max_dequeue_count,
                record=False,
            )
        )
        invocation.correlation_id = correlation_of(body)
        local, records = self._local(), self.invoker.records
        if local is not None and records is not None and invocation.succeeded:
            # The outputs, this message's deletion and the record: one transaction.
            def finish(conn: Connection) -> None:
                local.delete_within(conn, self.queue, delivery.message)
                records.add_within(conn, invocation.record())

            written = await self.outputs.settle_within(invocation, local.database, finish)
            if written:
                return SETTLED, invocation
            if written is False:
                await self.invoker.record(invocation)
                return retry(int(options.visibility_timeout)), invocation
        settled = await self.outputs.settle(invocation)
        await self.invoker.record(invocation)
        return (DELETE if settled else retry(int(options.visibility_timeout))), invocation

    def _local(self) -> LocalEndpoint | None:
        """The trigger's queue when it is in the store this process holds, on the database
        the invocation records go to: then a success is a single write."""
        records = self.invoker.records
        return on_database(self.endpoint, records.database) if records is not None else None
