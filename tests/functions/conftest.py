"""Fixtures: a real `ferry start` on the tests' function apps, driven by the real SDK."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.queue import (
    BinaryBase64DecodePolicy,
    BinaryBase64EncodePolicy,
    QueueClient,
    QueueServiceClient,
)

from ferry.queues.auth import DEV_ACCOUNT, DEV_KEY
from ferry.spawn import Child, spawn

APPS = Path(__file__).parent.parent / "apps"

StartApp = Callable[..., Child]


def connection_string(queues_url: str) -> str:
    return (
        f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};"
        f"QueueEndpoint={queues_url}"
    )


def queue_client(queues_url: str, name: str, *, base64: bool = True) -> QueueClient:
    """A client as the seed's code makes one: bytes in, base64 on the wire."""
    policies = (
        {
            "message_encode_policy": BinaryBase64EncodePolicy(),
            "message_decode_policy": BinaryBase64DecodePolicy(),
        }
        if base64
        else {}
    )
    client = QueueServiceClient.from_connection_string(connection_string(queues_url))
    queue = client.get_queue_client(name, **policies)
    return queue


def collect(client: QueueClient, count: int, timeout: float = 10) -> list[bytes]:
    """Receive and delete until `count` messages arrived (or fail after `timeout`)."""
    found: list[bytes] = []
    deadline = time.monotonic() + timeout
    while len(found) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"only {len(found)} of {count} messages arrived: {found}")
        try:
            for message in client.receive_messages(messages_per_page=32, max_messages=32):
                found.append(message.content)
                client.delete_message(message)
        except ResourceNotFoundError:  # the output queue is created by the first put
            pass
        time.sleep(0.02)
    return found


@pytest.fixture
def start_app(tmp_path: Path) -> Iterator[StartApp]:
    """`ferry start --app <copy of tests/apps/NAME>` on free ports; stopped afterwards."""
    children: list[Child] = []

    def start(
        name: str,
        *extra: str,
        env: dict[str, str] | None = None,
        command: str = "start",
    ) -> Child:
        folder = tmp_path / name
        if not folder.exists():
            shutil.copytree(APPS / name, folder)
        args = [command, "--app", str(folder), "--http-port", "0"]
        if command == "start":
            args += ["--queue-port", "0", "--agents-port", "0"]
            args += ["--queue-tls-port", "0", "--identity-port", "0"]
        child = spawn([*args, *extra], tmp_path / f"data-{name}", env=env)
        children.append(child)
        return child

    yield start
    for child in children:
        child.kill()
