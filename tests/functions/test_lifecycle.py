"""Shutdown with messages in flight, and a host polling a separate queue service."""

from __future__ import annotations

import time

import pytest

from tests.conftest import ServerFactory
from tests.functions.conftest import StartApp, collect, connection_string, queue_client

pytestmark = pytest.mark.timeout(90)


def test_clean_shutdown_finishes_in_flight_invocations(start_app: StartApp) -> None:
    child = start_app("queueapp", env={"SLOW_SECONDS": "1.5"})
    queues = child.url("queues")
    source = queue_client(queues, "slow-in")
    source.create_queue()
    for i in range(5):
        source.send_message(f"slow {i}".encode())
    time.sleep(0.5)  # all five are running now (batch size 16)
    assert child.stop() == 0
    restarted = start_app("queueapp", env={"SLOW_SECONDS": "0"})
    found = collect(queue_client(restarted.url("queues"), "slow-out"), 5)
    assert sorted(found) == [f"slow {i}".encode() for i in range(5)]


def test_shutdown_releases_what_cannot_finish(start_app: StartApp) -> None:
    """With a 0.5 s grace, the 4 s invocations are abandoned: their messages become visible
    again at once and the next start processes them; nothing is lost or written twice."""
    child = start_app("queueapp", env={"SLOW_SECONDS": "4", "FERRY_SHUTDOWN_GRACE": "0.5"})
    queues = child.url("queues")
    source = queue_client(queues, "slow-in")
    source.create_queue()
    for i in range(3):
        source.send_message(f"late {i}".encode())
    time.sleep(0.8)
    assert child.stop(timeout=20) == 0
    # were they still hidden (600 s while running), the restart could not see them
    restarted = start_app("queueapp", env={"SLOW_SECONDS": "0"})
    found = collect(queue_client(restarted.url("queues"), "slow-out"), 3)
    assert sorted(found) == [f"late {i}".encode() for i in range(3)]


def test_host_polls_a_separate_queue_service(
    start_app: StartApp, queue_server_factory: ServerFactory
) -> None:
    server = queue_server_factory("sqlite")
    queues = server.url("queues")
    start_app("noneapp", command="functions", env={"Store": connection_string(queues)})
    source = queue_client(queues, "plain-in", base64=False)
    source.create_queue()
    source.send_message("over http")
    assert collect(queue_client(queues, "plain-out", base64=False), 1) == ["got over http"]


def test_kill_9_of_the_host_loses_no_message(
    start_app: StartApp, queue_server_factory: ServerFactory
) -> None:
    """`kill -9` of `ferry functions` with invocations in flight: their messages stay hidden
    for the trigger's hold (2 s here, 600 s by default as in the real host), then reappear,
    and the next host processes every one (at least once)."""
    server = queue_server_factory("sqlite")
    queues = server.url("queues")
    env = {"AzureWebJobsStorage": connection_string(queues), "FERRY_TRIGGER_HOLD": "2"}
    host = start_app("queueapp", command="functions", env={**env, "SLOW_SECONDS": "30"})
    source = queue_client(queues, "slow-in")
    source.create_queue()
    sent = [f"in flight {i}".encode() for i in range(6)]
    for body in sent:
        source.send_message(body)
    deadline = time.monotonic() + 10
    while source.get_queue_properties().approximate_message_count and any(
        True for _ in source.peek_messages(max_messages=1)
    ):
        assert time.monotonic() < deadline, "the host never took the messages"
        time.sleep(0.05)
    host.kill()  # mid-invocation: each sleeps 30 s
    started = time.monotonic()
    start_app("queueapp", command="functions", env={**env, "SLOW_SECONDS": "0"})
    found = collect(queue_client(queues, "slow-out"), len(sent), timeout=30)
    assert sorted(set(found)) == sorted(sent)
    assert time.monotonic() - started >= 1.0  # they were hidden, not dropped and resent
