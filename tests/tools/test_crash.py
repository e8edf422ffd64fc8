"""kill -9 of the agent service while a tool that acts is carrying out a call: after a restart
on the same store, the call is not made again (its effect is unknown) and the model is told it
was interrupted; the run completes. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from azure.ai.agents.models import CodeInterpreterTool

from ferry.spawn import spawn
from tests.agents.conftest import Ferry
from tests.conftest import BACKENDS

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_call_cut_short_by_a_crash_is_told_not_repeated(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    extra: list[str] = []
    if backend == "postgres":
        extra = ["--database-url", request.getfixturevalue("postgres_databases")()]
    data = tmp_path / "data"
    marks = tmp_path / "marks"
    marks.mkdir(mode=0o777)
    marks.chmod(0o777)  # the session runs under a uid of its own
    marker = marks / "ran"
    env = {"FERRY_RUN_LEASE": "1", "FERRY_CODE_SANDBOX": "unsafe"}
    # (unsafe: the program marks a file of the test's each time it starts, to count them)
    program = f"open({str(marker)!r}, 'a').write('x')\nimport time\ntime.sleep(60)"
    agents = spawn(["serve", "agents", "--port", "0", *extra], data, env=env)
    try:
        ferry = Ferry(agents, data)
        with ferry.agents() as client:
            agent = client.create_agent(
                model="m", name="crashy", tools=CodeInterpreterTool().definitions
            )
            thread = client.threads.create()
            directive = "call code_interpreter " + json.dumps({"code": program})
            client.messages.create(thread_id=thread.id, role="user", content=directive)
            run = client.runs.create(thread_id=thread.id, agent_id=agent.id)
            deadline = time.monotonic() + 30
            while not marker.exists() and time.monotonic() < deadline:
                time.sleep(0.1)
            assert marker.exists(), "the program never started"
        agents.kill()

        agents = spawn(["serve", "agents", "--port", "0", *extra], data, env=env)
        ferry = Ferry(agents, data)
        with ferry.agents() as client:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                run = client.runs.get(thread_id=thread.id, run_id=run.id)
                if run.status in ("completed", "failed", "cancelled", "expired"):
                    break
                time.sleep(0.2)
            assert run.status == "completed", run.last_error
            answer = client.messages.get_last_message_text_by_role(
                thread_id=thread.id, role="assistant"
            )
            assert answer is not None
            assert "Ferry stopped while this code was running" in answer.text.value
        assert marker.read_text() == "x"  # started once, never again
        # `ferry runs show` tells the call's fate.
        shown = subprocess.run(
            [sys.executable, "-m", "ferry", "runs", "show", run.id, "--data", str(data)]
            + [*extra, "--json"],
            capture_output=True,
            text=True,
            check=True,
        )
        timeline = json.loads(shown.stdout)
        (call,) = timeline["tools"]
        assert (call["tool"], call["state"], call["stage"]) == (
            "code_interpreter",
            "answered",
            "started",
        )
        done = [e for e in timeline["events"] if e["event"] == "tool.done"]
        assert len(done) == 1 and "interrupted" in done[0]["detail"]
    finally:
        agents.kill()
