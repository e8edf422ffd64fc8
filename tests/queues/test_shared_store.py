"""Several `ferry serve queues` processes on one store behave as one queue service."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from azure.storage.queue import QueueClient

from ferry.queues.auth import DEV_ACCOUNT, DEV_KEY
from tests.conftest import BACKENDS, ServerFactory


def client(url: str, queue: str) -> QueueClient:
    return QueueClient(url, queue, credential={"account_name": DEV_ACCOUNT, "account_key": DEV_KEY})


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_two_processes_share_queues_and_never_hand_out_a_message_twice(
    backend: str,
    queue_server_factory: ServerFactory,
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    # Given two servers on one database (PostgreSQL, or one SQLite file),
    if backend == "postgres":
        url = request.getfixturevalue("postgres_databases")()
        first = queue_server_factory(backend, database_url=url)
        second = queue_server_factory(backend, database_url=url)
    else:
        first = queue_server_factory(data=tmp_path)
        second = queue_server_factory(data=tmp_path)
    a, b = first.url("queues"), second.url("queues")

    # a queue made through one is visible through the other,
    client(a, "shared").create_queue()
    for i in range(400):
        (client(a, "shared") if i % 2 else client(b, "shared")).send_message(f"m{i}")
    assert client(b, "shared").get_queue_properties().approximate_message_count == 400

    # and consumers on both servers split the messages without overlap.
    seen: list[str] = []
    lock = threading.Lock()

    def consume(url: str) -> None:
        queue = client(url, "shared")
        while batch := list(queue.receive_messages(max_messages=16, visibility_timeout=600)):
            with lock:
                seen.extend(m.content for m in batch)

    threads = [threading.Thread(target=consume, args=(u,)) for u in (a, b, a, b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(seen) == sorted(f"m{i}" for i in range(400))
