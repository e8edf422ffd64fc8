"""kill -9 of the agent service while a run waits on a queue tool: after a restart (a new
process on the same store) the run takes the answer that arrived meanwhile and completes
exactly once, on SQLite and on PostgreSQL."""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Any

import pytest
from azure.ai.agents.models import MessageRole
from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.queue import BinaryBase64DecodePolicy, BinaryBase64EncodePolicy, QueueClient

from ferry.spawn import spawn
from tests.agents.conftest import Ferry
from tests.agents.test_runs_ga import wait_for, weather_tool
from tests.conftest import BACKENDS
from tests.functions.conftest import connection_string

pytestmark = pytest.mark.slow


def _queue(queues_url: str, name: str) -> QueueClient:
    return QueueClient.from_connection_string(
        connection_string(queues_url),
        name,
        message_encode_policy=BinaryBase64EncodePolicy(),
        message_decode_policy=BinaryBase64DecodePolicy(),
    )


def _take_call(queue: QueueClient, timeout: float = 15) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            for message in queue.receive_messages(max_messages=1):
                queue.delete_message(message)
                return dict(json.loads(message.content))
        except ResourceNotFoundError:
            pass
        time.sleep(0.05)
    raise AssertionError("no tool call arrived on the input queue")


@pytest.mark.parametrize("backend", BACKENDS)
def test_run_survives_kill_9_of_the_agent_service(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    extra: list[str] = []
    if backend == "postgres":
        extra = ["--database-url", request.getfixturevalue("postgres_databases")()]
    data = tmp_path / "data"
    queues = spawn(["serve", "queues", "--port", "0", *extra], data)
    env = {"FERRY_RUN_LEASE": "1"}
    agents = spawn(["serve", "agents", "--port", "0", *extra], data, env=env)
    try:
        queues_url = queues.url("queues")
        ferry = Ferry(agents, data)
        with ferry.agents() as client:
            agent = client.create_agent(
                model="m", name="durable", tools=weather_tool(queues_url).definitions
            )
            thread = client.threads.create()
            client.messages.create(thread_id=thread.id, role="user", content="weather in Oslo")
            run = client.runs.create(thread_id=thread.id, agent_id=agent.id)
            call = _take_call(_queue(queues_url, "input"))
            assert call["location"] == "Oslo"
            assert call["function_args"] == {"location": "Oslo"}
            assert call["OutputQueueUri"].endswith("/output")
        agents.kill()

        answer = {"Value": "Oslo: 12 degrees", "CorrelationId": call["CorrelationId"]}
        output = _queue(queues_url, "output")
        # The agent service made it already (so functions with a plain QueueClient can answer).
        with contextlib.suppress(ResourceExistsError):
            output.create_queue()
        output.send_message(json.dumps(answer).encode())
        output.send_message(json.dumps(answer).encode())  # a duplicate: ignored

        again = spawn(["serve", "agents", "--port", "0", *extra], data, env=env)
        agents = again
        with Ferry(again, data).agents() as client:
            run = wait_for(client, thread.id, run.id, {"completed", "failed"}, timeout=30)
            assert run.status == "completed", run.last_error
            replies = [
                m for m in client.messages.list(thread_id=thread.id) if m.role == MessageRole.AGENT
            ]
            assert len(replies) == 1
            assert "Oslo: 12 degrees" in replies[0].content[0].text.value
            steps = list(client.run_steps.list(thread_id=thread.id, run_id=run.id))
            assert len(steps) == 2
    finally:
        agents.kill()
        queues.kill()
