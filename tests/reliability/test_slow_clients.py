"""Slow and stalled clients (a request body trickled a byte at a time, headers never finished)
hold their own connection only: the queue service and the agents API go on answering everyone
else at once."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from tests.agents.conftest import Ferry
from tests.functions.conftest import queue_client

pytestmark = pytest.mark.slow

SLOW = 20


def _address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname and parts.port
    return parts.hostname, parts.port


def _trickle(
    address: tuple[str, int], request: bytes, stop: threading.Event, tls: ssl.SSLContext | None
) -> None:
    """Send the head, then the body one byte every 0.2 s, until stopped."""
    raw = socket.create_connection(address, timeout=5)
    sock = tls.wrap_socket(raw, server_hostname=address[0]) if tls else raw
    try:
        head, _, body = request.partition(b"\r\n\r\n")
        sock.sendall(head + b"\r\n\r\n")
        for byte in body:
            if stop.wait(0.2):
                return
            sock.sendall(bytes([byte]))
    except OSError:
        return  # the server may close a stalled connection: that is allowed
    finally:
        sock.close()


@pytest.fixture
def slow_clients(weather_ferry: Ferry) -> Iterator[None]:
    stop = threading.Event()
    queues = _address(weather_ferry.queues_url)
    agents = _address(weather_ferry.agents_url)
    body = b"<QueueMessage><MessageText>" + b"x" * 200 + b"</MessageText></QueueMessage>"
    put = (
        b"POST /devstoreaccount1/slow/messages HTTP/1.1\r\nHost: q\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    post = (
        b"POST /api/projects/slow/assistants HTTP/1.1\r\nHost: a\r\n"
        b"Content-Type: application/json\r\nContent-Length: 400\r\n\r\n" + b"{" + b" " * 399
    )
    threads = [
        threading.Thread(target=_trickle, args=(queues, put, stop, None), daemon=True)
        for _ in range(SLOW)
    ]
    threads += [
        threading.Thread(
            target=_trickle, args=(agents, post, stop, weather_ferry.tls_context()), daemon=True
        )
        for _ in range(SLOW)
    ]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    yield
    stop.set()
    for thread in threads:
        thread.join(5)


def test_others_are_served_while_slow_clients_trickle(
    weather_ferry: Ferry, slow_clients: None
) -> None:
    queue = queue_client(weather_ferry.queues_url, "beside-the-slow", base64=False)
    queue.create_queue()
    took: list[float] = []
    with httpx.Client(verify=weather_ferry.tls_context(), timeout=5) as http:
        for number in range(20):
            began = time.perf_counter()
            queue.send_message(f"m{number}")
            listed = http.get(
                f"{weather_ferry.endpoint('slow')}/assistants?api-version=2025-05-01",
                headers=weather_ferry.auth(),
            )
            assert listed.status_code == 200
            took.append(time.perf_counter() - began)
    assert len(list(queue.peek_messages(max_messages=32))) == 20
    assert max(took) < 1.0, took
    print(f"slow connections={2 * SLOW} requests beside them={2 * len(took)} max={max(took):.3f}s")
