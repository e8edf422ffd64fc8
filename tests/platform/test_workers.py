"""`ferry start --workers N`: worker processes beside the serving one, supervised by it."""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path

import pytest

from ferry.spawn import spawn
from tests.agents.conftest import APPS, Ferry
from tests.agents.test_runs_ga import wait_for, weather_tool

pytestmark = pytest.mark.slow


def _workers_of(pid: int) -> list[int]:
    """The `ferry worker` processes whose parent is `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == pid and b"worker" in command:
            found.append(int(entry.name))
    return found


def _until(check: object, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


def test_workers_run_beside_ferry_start_are_restarted_and_end_with_it(tmp_path: Path) -> None:
    app = tmp_path / "weather"
    shutil.copytree(APPS / "weather", app)
    args = ["start", "--app", str(app), "--queue-port", "0", "--http-port", "0"]
    args += ["--agents-port", "0", "--queue-tls-port", "0", "--identity-port", "0"]
    child = spawn([*args, "--workers", "2"], tmp_path / "data")
    try:
        _until(lambda: len(_workers_of(child.process.pid)) == 2)
        ferry = Ferry(child, tmp_path / "data")
        with ferry.agents() as client:
            agent = client.create_agent(
                model="m", name="workers", tools=weather_tool(ferry.queues_url).definitions
            )
            runs = []
            for city in ("Seattle", "Paris", "Lagos", "Lima"):
                thread = client.threads.create()
                client.messages.create(thread_id=thread.id, role="user", content=f"weather {city}")
                runs.append((thread.id, client.runs.create(thread_id=thread.id, agent_id=agent.id)))
            for thread_id, run in runs:
                done = wait_for(client, thread_id, run.id, {"completed", "failed"}, timeout=30)
                assert done.status == "completed", done.last_error

        # A worker that dies is started again.
        first, _second = _workers_of(child.process.pid)
        os.kill(first, signal.SIGKILL)
        _until(lambda: first not in _workers_of(child.process.pid))
        _until(lambda: len(_workers_of(child.process.pid)) == 2)

        # And none outlives ferry start, even killed with -9.
        workers = _workers_of(child.process.pid)
        child.kill()
        _until(lambda: not any(_alive(pid) for pid in workers))
    finally:
        child.kill()
