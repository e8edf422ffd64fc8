"""Queue triggers and queue outputs under a real `ferry start`, driven by the real SDK."""

from __future__ import annotations

import json
import time
from datetime import datetime

import pytest
from azure.storage.queue import QueueClient

from tests.functions.conftest import StartApp, collect, queue_client

pytestmark = pytest.mark.timeout(60)


def test_queue_message_properties_reach_the_function(start_app: StartApp) -> None:
    child = start_app("queueapp")
    queues = child.url("queues")
    source = queue_client(queues, "echo-in")
    source.create_queue()
    sent = source.send_message(b"hello ferry")
    [raw] = collect(queue_client(queues, "echo-out"), 1)
    seen = json.loads(raw)
    assert seen["id"] == sent.id
    assert seen["body"] == "hello ferry"
    assert seen["dequeue_count"] == 1
    assert seen["function"] == "Echo"
    assert seen["pop_receipt"]
    inserted = datetime.fromisoformat(seen["insertion_time"])
    expires = datetime.fromisoformat(seen["expiration_time"])
    assert (expires - inserted).days == 7
    assert datetime.fromisoformat(seen["time_next_visible"]) > inserted
    assert source.peek_messages() == []  # deleted after success


def test_failures_retry_after_visibility_timeout_then_poison(start_app: StartApp) -> None:
    child = start_app("queueapp")
    queues = child.url("queues")
    source = queue_client(queues, "fail-in")
    source.create_queue()
    started = time.monotonic()
    source.send_message(b"doomed")
    [poisoned] = collect(queue_client(queues, "fail-in-poison"), 1, timeout=20)
    elapsed = time.monotonic() - started
    assert poisoned == b"doomed"
    # maxDequeueCount 3 with visibilityTimeout 1 s: two waits of at least a second
    assert elapsed >= 2.0
    assert source.peek_messages() == []
    # a failing invocation writes no output binding
    output = queue_client(queues, "fail-out")
    assert not _exists(output) or output.peek_messages() == []


def _exists(client: QueueClient) -> bool:
    try:
        client.get_queue_properties()
    except Exception:
        return False
    return True


def test_invalid_base64_goes_straight_to_poison(start_app: StartApp) -> None:
    child = start_app("queueapp")
    queues = child.url("queues")
    raw = queue_client(queues, "echo-in", base64=False)
    raw.create_queue()
    raw.send_message("this is not base64!")
    [poisoned] = collect(queue_client(queues, "echo-in-poison", base64=False), 1)
    assert poisoned == "this is not base64!"
    assert not _exists(queue_client(queues, "echo-out"))


def test_return_value_list_fans_out(start_app: StartApp) -> None:
    child = start_app("queueapp")
    queues = child.url("queues")
    source = queue_client(queues, "fan-in")
    source.create_queue()
    source.send_message(b"part")
    found = collect(queue_client(queues, "fan-out"), 3)
    assert sorted(found) == [b"part-0", b"part-1", b"part-2"]


def test_bytes_in_bytes_out_and_async_json(start_app: StartApp) -> None:
    child = start_app("queueapp")
    queues = child.url("queues")
    for name in ("bytes-in", "async-in", "bp-in"):
        queue_client(queues, name).create_queue()
    queue_client(queues, "bytes-in").send_message(bytes([1, 2, 255, 0]))
    queue_client(queues, "async-in").send_message(json.dumps({"a": [1, 2]}).encode())
    queue_client(queues, "bp-in").send_message(b"blueprint")
    assert collect(queue_client(queues, "bytes-out"), 1) == [bytes([0, 255, 2, 1])]
    assert json.loads(collect(queue_client(queues, "async-out"), 1)[0]) == {"json": {"a": [1, 2]}}
    assert collect(queue_client(queues, "bp-out"), 1) == [b"BLUEPRINT"]


def test_none_encoding(start_app: StartApp) -> None:
    child = start_app("noneapp", env={"Store": "UseDevelopmentStorage=true"})
    queues = child.url("queues")
    source = queue_client(queues, "plain-in", base64=False)
    source.create_queue()
    source.send_message("plain text")
    assert collect(queue_client(queues, "plain-out", base64=False), 1) == ["got plain text"]


def test_instant_wake_up_after_idle(start_app: StartApp) -> None:
    """Idle longer than maxPollingInterval (2 s), then a put is picked up at once."""
    child = start_app("queueapp")
    queues = child.url("queues")
    source = queue_client(queues, "bp-in")
    source.create_queue()
    target = queue_client(queues, "bp-out")
    time.sleep(2.5)
    started = time.monotonic()
    source.send_message(b"wake")
    assert collect(target, 1) == [b"WAKE"]
    assert time.monotonic() - started < 0.5
