"""`kill -9` in the middle of a load: every acknowledged put is there after a restart."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from ferry.queues.auth import DEV_ACCOUNT, DEV_KEY
from ferry.queues.client import QueueClient
from ferry.queues.connection import QueueConnection
from ferry.spawn import Child
from tests.conftest import BACKENDS, ServerFactory

pytestmark = pytest.mark.slow


async def load(url: str, queue: str, acknowledged: list[str], stop_after: float) -> None:
    """Put messages from 16 concurrent senders until the server goes away."""
    connection = QueueConnection(DEV_ACCOUNT, url, DEV_KEY)
    deadline = time.monotonic() + stop_after

    async def sender(client: QueueClient, worker: int) -> None:
        sequence = 0
        while time.monotonic() < deadline:
            text = f"w{worker}-{sequence}"
            sequence += 1
            try:
                await client.put_message(queue, text)
            except Exception:
                return  # the server died; this put was never acknowledged
            acknowledged.append(text)

    async with QueueClient(connection, timeout=5) as client:
        await asyncio.gather(*(sender(client, i) for i in range(16)))


async def drain(url: str, queue: str) -> list[str]:
    async with QueueClient(QueueConnection(DEV_ACCOUNT, url, DEV_KEY)) as client:
        found: list[str] = []
        while batch := await client.get_messages(queue, count=32, visibility_timeout=600):
            found += [m.text for m in batch]
        return found


@pytest.mark.parametrize("backend", BACKENDS)
def test_acknowledged_puts_survive_kill_9(
    backend: str, queue_server_factory: ServerFactory, request: pytest.FixtureRequest
) -> None:
    database_url = (
        request.getfixturevalue("postgres_databases")() if backend == "postgres" else None
    )
    server: Child = queue_server_factory(backend, database_url=database_url)
    data = server.data
    url = server.url("queues")
    httpx.put(f"{url}/crash?{_sas()}", headers={"x-ms-version": "2026-10-06"}).raise_for_status()

    acknowledged: list[str] = []

    async def scenario() -> None:
        # Given a steady stream of puts,
        sending = asyncio.create_task(load(url, "crash", acknowledged, stop_after=30))
        while len(acknowledged) < 800:
            await asyncio.sleep(0.01)
        # when the server is killed without warning,
        server.kill()
        await sending

    asyncio.run(scenario())
    assert len(acknowledged) >= 800

    # then a new server on the same data has every message it acknowledged.
    restarted = queue_server_factory(backend, data=data, database_url=database_url)
    found = asyncio.run(drain(restarted.url("queues"), "crash"))
    missing = set(acknowledged) - set(found)
    assert not missing, f"{len(missing)} of {len(acknowledged)} acknowledged messages lost"
    assert len(found) == len(set(found)), "a message came back twice"


def _sas() -> str:
    from datetime import UTC, datetime, timedelta

    from azure.storage.queue import AccountSasPermissions, ResourceTypes, generate_account_sas

    return generate_account_sas(
        DEV_ACCOUNT,
        DEV_KEY,
        ResourceTypes(container=True),
        AccountSasPermissions(create=True),
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )
