"""Metadata names keep the case the client gave them, on every path back to it."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import pytest
from azure.storage.queue import QueueServiceClient

from ferry.queues.auth import DEV_ACCOUNT, DEV_KEY
from ferry.serving import restore_case
from ferry.spawn import Child

KEY = {"account_name": DEV_ACCOUNT, "account_key": DEV_KEY}


def _response_head(url: str, path: str) -> bytes:
    """The status line and headers exactly as they come off the socket."""
    parts = urlsplit(url)
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nx-ms-version: 2026-10-06\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as conn:
        conn.sendall(request)
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = conn.recv(4096)
            if not chunk:
                break
            received += chunk
    return received.split(b"\r\n\r\n", 1)[0]


def test_list_queues_keeps_the_case(queue_server: Child, queue_name: str) -> None:
    service = QueueServiceClient(queue_server.url("queues"), credential=KEY)
    service.create_queue(queue_name, metadata={"CamelCase": "x", "lower": "y"})
    [listed] = service.list_queues(name_starts_with=queue_name, include_metadata=True)
    assert listed.metadata == {"CamelCase": "x", "lower": "y"}


def test_get_queue_metadata_keeps_the_case_on_the_wire(
    queue_server: Child, queue_name: str, full_account_sas: str
) -> None:
    service = QueueServiceClient(queue_server.url("queues"), credential=KEY)
    queue = service.create_queue(queue_name, metadata={"CamelCase": "x"})
    path = urlsplit(queue_server.url("queues")).path
    head = _response_head(
        queue_server.url("queues"), f"{path}/{queue_name}?comp=metadata&{full_account_sas}"
    )
    assert b"\r\nx-ms-meta-CamelCase: x" in head
    assert b"x-ferry-keep-case" not in head  # the writer's marker never leaves Ferry
    assert queue.get_queue_properties().metadata == {"CamelCase": "x"}


@pytest.mark.parametrize(
    ("head", "written"),
    [
        (
            b"HTTP/1.1 200 OK\r\nx-ms-meta-camelcase: x\r\nx-ferry-keep-case: x-ms-meta-CamelCase",
            b"HTTP/1.1 200 OK\r\nx-ms-meta-CamelCase: x",
        ),
        (
            b"HTTP/1.1 200 OK\r\nx-ferry-keep-case: x-ms-meta-A,x-ms-meta-bB\r\n"
            b"x-ms-meta-a: 1\r\nx-ms-meta-bb: 2\r\ncontent-length: 0",
            b"HTTP/1.1 200 OK\r\nx-ms-meta-A: 1\r\nx-ms-meta-bB: 2\r\ncontent-length: 0",
        ),
        (b"HTTP/1.1 204 No Content\r\nserver: x", b"HTTP/1.1 204 No Content\r\nserver: x"),
    ],
)
def test_the_writer_restores_the_names_it_is_told_to(head: bytes, written: bytes) -> None:
    assert restore_case(head) == written
