"""The split deployment: `ferry serve agents --no-engine` answers the API, `ferry worker`
processes work the runs, `ferry serve queues` carries the tool calls. Each is its own
process; they meet only in the database: PostgreSQL, or the SQLite file of one data folder
(whose processes tell each other of their writes over Unix sockets)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from azure.ai.agents.models import MessageRole
from azure.core.exceptions import ResourceExistsError

from ferry.spawn import Child, spawn
from tests.agents.conftest import Ferry
from tests.agents.test_durability import _queue, _take_call
from tests.agents.test_runs_ga import wait_for, weather_tool
from tests.agents.test_streaming import events_of, names

pytestmark = [pytest.mark.slow]


class Split:
    def __init__(self, queues: Child, api: Child, data: Path) -> None:
        self.queues_url = queues.url("queues")
        self.ferry = Ferry(api, data)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def split(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Split]:
    if request.param == "postgres":
        database = ["--database-url", request.getfixturevalue("postgres_databases")()]
        worker_data = tmp_path / "worker"
    else:
        database, worker_data = [], tmp_path / "data"  # the SQLite file is the data folder's
    # One data folder: one signing key, so the API accepts the tests' tokens.
    queues = spawn(["serve", "queues", "--port", "0", *database], tmp_path / "data")
    api = spawn(["serve", "agents", "--port", "0", "--no-engine", *database], tmp_path / "data")
    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen(
        [sys.executable, "-m", "ferry", "worker", *database, "--data", str(worker_data)],
        env={**os.environ, "NO_COLOR": "1"},
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:
        yield Split(queues, api, tmp_path / "data")
    finally:
        worker.kill()
        worker.wait()
        log.close()
        api.kill()
        queues.kill()


def test_a_worker_does_the_runs_the_api_takes(split: Split) -> None:
    with split.ferry.agents() as client:
        agent = client.create_agent(model="m", name="split")
        thread = client.threads.create()
        client.messages.create(thread_id=thread.id, role="user", content="Hello, worker")
        run = client.runs.create(thread_id=thread.id, agent_id=agent.id)
        run = wait_for(client, thread.id, run.id, {"completed", "failed"})
        assert run.status == "completed", run.last_error
        last = client.messages.get_last_message_text_by_role(thread.id, MessageRole.AGENT)
        assert last is not None and last.text.value == "You said: Hello, worker"


def test_a_stream_follows_a_run_worked_elsewhere(split: Split) -> None:
    ferry = split.ferry
    tools = [t.as_dict() for t in weather_tool(split.queues_url).definitions]
    with httpx.Client(
        base_url=ferry.endpoint("split"),
        verify=ferry.tls_context(),
        headers=ferry.auth(),
        timeout=30,
    ) as http:
        agent = http.post("/assistants", json={"model": "m", "tools": tools}).json()["id"]
        body = {
            "assistant_id": agent,
            "stream": True,
            "thread": {"messages": [{"role": "user", "content": "weather in Lima"}]},
        }
        seen: list[tuple[str, Any]] = []
        with http.stream("POST", "/threads/runs", json=body) as response:
            assert response.status_code == 200
            for event in events_of(response.iter_lines()):
                seen.append(event)
                if event[0] == "thread.run.step.created" and event[1]["type"] == "tool_calls":
                    call = _take_call(_queue(split.queues_url, "input"))
                    answer = {"Value": "Lima: 19 degrees", "CorrelationId": call["CorrelationId"]}
                    output = _queue(split.queues_url, "output")
                    with contextlib.suppress(ResourceExistsError):
                        output.create_queue()
                    output.send_message(json.dumps(answer).encode())
    got = names(seen)
    assert got[-2:] == ["thread.run.completed", "done"], got
    text = "".join(
        part["text"]["value"]
        for name, data in seen
        if name == "thread.message.delta"
        for part in data["delta"]["content"]
    )
    assert "Lima: 19 degrees" in text
