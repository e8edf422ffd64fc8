"""Any service speaking the Azure Queue protocol, through the real `azure-storage-queue` SDK."""

from __future__ import annotations

import contextlib
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.queue.aio import QueueServiceClient

from ferry.queues.endpoint import QueueEndpoint, Received

__all__ = ["RemoteEndpoint"]


def _received(message: Any) -> Received:
    return Received(
        id=message.id,
        pop_receipt=message.pop_receipt,
        dequeue_count=message.dequeue_count,
        inserted_at=message.inserted_on,
        expires_at=message.expires_on,
        next_visible_at=message.next_visible_on,
        text=message.content,
    )


class RemoteEndpoint(QueueEndpoint):
    """The SDK's message policies stay off: the host encodes and decodes bodies itself, per
    host.json `messageEncoding`, exactly as the stored text."""

    def __init__(self, client: QueueServiceClient) -> None:
        self.client = client
        self.name = client.url

    @classmethod
    def from_connection_string(cls, connection_string: str) -> RemoteEndpoint:
        return cls(QueueServiceClient.from_connection_string(connection_string))

    @classmethod
    def from_url(cls, url: str, credential: Any) -> RemoteEndpoint:
        return cls(QueueServiceClient(url, credential=credential))

    async def receive(self, queue: str, count: int, visibility_timeout: int) -> list[Received]:
        client = self.client.get_queue_client(queue)
        try:
            pages = client.receive_messages(
                messages_per_page=count, max_messages=count, visibility_timeout=visibility_timeout
            )
            return [_received(m) async for m in pages]
        except ResourceNotFoundError:
            return []

    async def delete(self, queue: str, message: Received) -> None:
        with contextlib.suppress(ResourceNotFoundError):
            await self.client.get_queue_client(queue).delete_message(
                message.id, message.pop_receipt
            )

    async def hide(self, queue: str, message: Received, seconds: int) -> Received | None:
        try:
            updated = await self.client.get_queue_client(queue).update_message(
                message.id, message.pop_receipt, visibility_timeout=seconds
            )
        except ResourceNotFoundError:
            return None
        return Received(
            id=message.id,
            pop_receipt=updated.pop_receipt or message.pop_receipt,
            dequeue_count=message.dequeue_count,
            inserted_at=message.inserted_at,
            expires_at=message.expires_at,
            next_visible_at=updated.next_visible_on or message.next_visible_at,
            text=message.text,
        )

    async def put(self, queue: str, text: str) -> None:
        client = self.client.get_queue_client(queue)
        try:
            await client.send_message(text)
        except ResourceNotFoundError:
            with contextlib.suppress(ResourceExistsError):
                await client.create_queue()
            await client.send_message(text)

    async def ensure(self, queue: str) -> None:
        with contextlib.suppress(ResourceExistsError):
            await self.client.get_queue_client(queue).create_queue()

    async def close(self) -> None:
        await self.client.close()
