"""The asynchronous SDK client (aiohttp transport) against a real `ferry serve queues`."""

from __future__ import annotations

import asyncio

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.queue.aio import QueueServiceClient

from ferry.spawn import Child
from tests.queues.test_sdk import connection_string


async def test_round_trip_with_the_aio_client(queue_server: Child, queue_name: str) -> None:
    async with QueueServiceClient.from_connection_string(
        connection_string(queue_server)
    ) as service:
        queue = service.get_queue_client(queue_name)
        await queue.create_queue(metadata={"async": "yes"})
        await asyncio.gather(*(queue.send_message(f"m{i}") for i in range(20)))
        received = [m async for m in queue.receive_messages(max_messages=20, visibility_timeout=60)]
        assert sorted(m.content for m in received) == sorted(f"m{i}" for i in range(20))
        await asyncio.gather(*(queue.delete_message(m) for m in received))
        props = await queue.get_queue_properties()
        assert props.approximate_message_count == 0
        names = [q.name async for q in service.list_queues(name_starts_with=queue_name)]
        assert names == [queue_name]
        await queue.delete_queue()
        with pytest.raises(ResourceNotFoundError):
            await queue.get_queue_properties()


async def test_update_with_the_aio_client(queue_server: Child, queue_name: str) -> None:
    async with QueueServiceClient.from_connection_string(
        connection_string(queue_server)
    ) as service:
        queue = service.get_queue_client(queue_name)
        await queue.create_queue()
        await queue.send_message("before")
        message = [m async for m in queue.receive_messages()][0]
        updated = await queue.update_message(message, content="after", visibility_timeout=0)
        await queue.delete_message(message.id, updated.pop_receipt)
        assert await queue.peek_messages() == []
