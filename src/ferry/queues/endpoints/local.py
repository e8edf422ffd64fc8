"""Ferry's own queue store, used in process: no HTTP, no auth, instant wake-ups."""

from __future__ import annotations

import asyncio
import contextlib

from ferry.clock import from_millis
from ferry.queues.endpoint import DEFAULT_TTL, QueueEndpoint, Received
from ferry.queues.errors import MessageNotFound, QueueAlreadyExists, QueueNotFound
from ferry.queues.models import Message
from ferry.queues.store import QueueStore

__all__ = ["LocalEndpoint"]

"""The service default TTL, which is what the real host's output binding leaves in place."""


def _received(message: Message) -> Received:
    assert message.pop_receipt is not None
    return Received(
        id=message.message_id,
        pop_receipt=message.pop_receipt,
        dequeue_count=message.dequeue_count,
        inserted_at=from_millis(message.inserted_at),
        expires_at=from_millis(message.expires_at),
        next_visible_at=from_millis(message.visible_at),
        text=message.text,
    )


class LocalEndpoint(QueueEndpoint):
    def __init__(self, store: QueueStore, account: str) -> None:
        self.store = store
        self.account = account
        self.name = f"Ferry's queue service, account {account} (in process)"

    async def receive(self, queue: str, count: int, visibility_timeout: int) -> list[Received]:
        try:
            messages = await self.store.get_messages(
                self.account, queue, count=count, visibility_timeout=visibility_timeout
            )
        except QueueNotFound:
            return []
        return [_received(m) for m in messages]

    async def delete(self, queue: str, message: Received) -> None:
        with contextlib.suppress(MessageNotFound, QueueNotFound):
            await self.store.delete_message(self.account, queue, message.id, message.pop_receipt)

    async def hide(self, queue: str, message: Received, seconds: int) -> Received | None:
        try:
            updated = await self.store.update_message(
                self.account,
                queue,
                message.id,
                message.pop_receipt,
                visibility_timeout=seconds,
                text=None,
            )
        except (MessageNotFound, QueueNotFound):
            return None
        return _received(updated)

    async def put(self, queue: str, text: str) -> None:
        try:
            await self.store.put_message(
                self.account, queue, text, visibility_timeout=0, ttl=DEFAULT_TTL
            )
        except QueueNotFound:
            await self.store.create_queue(self.account, queue, {})
            await self.store.put_message(
                self.account, queue, text, visibility_timeout=0, ttl=DEFAULT_TTL
            )

    async def ensure(self, queue: str) -> None:
        with contextlib.suppress(QueueAlreadyExists):
            await self.store.create_queue(self.account, queue, {})

    def arrivals(self, queue: str) -> asyncio.Event | None:
        if self.store.arrivals is None:
            return None
        return self.store.arrivals.event(self.account, queue)
