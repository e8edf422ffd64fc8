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
