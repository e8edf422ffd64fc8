"""`ferry up` / redeploy / `ferry down --purge`, end to end: the seed's app deployed from a
`ferry init` folder, asked the seed's question through its function URL with its key, redeployed
with new code while messages keep arriving, crashed, stopped and purged."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from ferry.instance import pid_alive
from tests.conftest import free_ports
from tests.functions.conftest import collect, queue_client

pytestmark = pytest.mark.slow

QUESTION = {"Prompt": "What is the weather in Seattle, WA?"}


def ferry(folder: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    finished = subprocess.run(
        [sys.executable, "-m", "ferry", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "COLUMNS": "200"},
    )
    if check and finished.returncode != 0:
        raise AssertionError(f"ferry {' '.join(args)} failed:\n{finished.stdout}{finished.stderr}")
    return finished


@dataclass
class Workspace:
    folder: Path
    ports: list[str]

    @property
    def app(self) -> Path:
        return self.folder / "weather"

    @property
    def environment(self) -> Path:
        return self.folder / ".ferry" / "environments" / "weather"

    def up(self, *extra: str) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(
            ferry(self.folder, "up", "--app", "weather", *self.ports, *extra, "--json").stdout
        )
        return document

    def status(self) -> dict[str, Any]:
        found: list[dict[str, Any]] = json.loads(ferry(self.folder, "status", "--json").stdout)
        assert len(found) == 1
        return found[0]

    def prompt_url(self) -> str:
        urls = [f["url"] for f in self.status()["functions"] if f["name"] == "prompt"]
        assert urls and urls[0], self.status()
        return str(urls[0])


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Workspace]:
    ferry(tmp_path, "init", "weather")
    queue, tls, identity, agents, http = free_ports(5)
    ports = ["--queue-port", str(queue), "--queue-tls-port", str(tls)]
    ports += ["--identity-port", str(identity), "--agents-port", str(agents)]
    ports += ["--http-port", str(http)]
    # The app's own settings name Ferry's default ports; the deployment's provisioned
    # settings must win over them, so the defaults are deliberately not what runs here.
    space = Workspace(tmp_path, ports)
    yield space
    state_file = space.environment / "supervisor.json"
    if state_file.exists():  # a failed test must not leave a supervisor behind
        state = json.loads(state_file.read_text())
        for pid in (state["pid"], state["host"]["pid"], state["platform"]["pid"]):
            if pid and pid_alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_up_redeploy_down_purge(workspace: Workspace) -> None:
    first = workspace.up()
    assert first["redeployed"] is False and first["deployment"]["number"] == 1
    assert first["deployment"]["files"] == 5  # local.settings.json stays out of the package
    url = workspace.prompt_url()
    assert "?code=" in url

    # The seed's scenario through the deployment: agent → input queue → GetWeather → output.
    answer = httpx.post(url, json=QUESTION, timeout=60)
    assert answer.status_code == 200, answer.text
    assert "Weather is 74 degrees and sunny" in answer.json()["Answer"]
    keyless = httpx.post(url.split("?")[0], json=QUESTION, timeout=10)
    assert keyless.status_code == 401  # keys are enforced in a deployment

    # Redeploy new code while a producer keeps putting tool calls on `input`.
    source = workspace.app / "function_app.py"
    source.write_text(source.read_text().replace("74 degrees and sunny", "75 degrees and windy"))
    queues = first["services"]["queues"]
    sent: list[str] = []
    stop = threading.Event()

    def produce() -> None:
        client = queue_client(queues, "input")
        while not stop.is_set():
            correlation = uuid.uuid4().hex
            # A tool call as the agent service puts it: the arguments at the top level (for
            # classic functions) and under function_args (for v2 ones, as the app's).
            call = {"location": "Oslo", "function_args": {"location": "Oslo"}}
            body = json.dumps({**call, "CorrelationId": correlation})
            client.send_message(body.encode())
            sent.append(correlation)
            time.sleep(0.01)

    producer = threading.Thread(target=produce)
    producer.start()
    try:
        time.sleep(1)
        second = workspace.up()
        time.sleep(1)
    finally:
        stop.set()
        producer.join()
    assert second["redeployed"] is True and second["deployment"]["number"] == 2
    assert second["switch_seconds"] is not None and second["switch_seconds"] < 15
    answers = [json.loads(body) for body in collect(queue_client(queues, "output"), len(sent), 60)]
    by_id = {a["CorrelationId"]: a["Value"] for a in answers}
    assert set(by_id) == set(sent)  # every call answered: nothing lost in the switch
    assert len(answers) == len(sent)  # and none answered twice
    versions = ["75" in by_id[c] for c in sent]
    assert versions[0] is False and versions[-1] is True
    # Calls are answered in order of arrival, one version after the other: once the new
    # code answers, the old never does again.
    switch = versions.index(True)
    assert all(versions[switch:]), versions
    print(
        f"\nredeploy under load: {len(sent)} calls put, {switch} answered by deployment 1, "
        f"{len(sent) - switch} by deployment 2, host switched in {second['switch_seconds']} s"
    )

    answer = httpx.post(workspace.prompt_url(), json=QUESTION, timeout=60)
    assert "Weather is 75 degrees and windy" in answer.json()["Answer"]

    # A crashed host is started again by the supervisor.
    status = workspace.status()
    assert status["status"] == "running" and status["deployment"] == 2
    assert status["queues"]["devstoreaccount1/input"] == 0
    crashed = status["host"]["pid"]
    os.kill(crashed, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = workspace.status()
        if status["host"].get("pid") not in (None, crashed) and status["status"] == "running":
            break
        time.sleep(0.2)
    assert status["host"]["restarts"] == 1 and status["status"] == "running", status
    assert httpx.post(workspace.prompt_url(), json=QUESTION, timeout=60).status_code == 200

    # A supervisor killed with -9 leaves its children running; down finds and stops them,
    # keeping the data; up again resumes with the next deployment.
    pids = [status["supervisor"], status["host"]["pid"], status["platform"]["pid"]]
    os.kill(status["supervisor"], signal.SIGKILL)
    time.sleep(0.5)
    assert pid_alive(status["host"]["pid"]) and pid_alive(status["platform"]["pid"])
    stopped = json.loads(ferry(workspace.folder, "down", "--json").stdout)
    assert stopped == {"name": "weather", "stopped": True, "purged": False, "deleted": {}}
    assert not any(pid_alive(pid) for pid in pids)
    assert workspace.status()["status"] == "stopped"
    assert (workspace.environment / "platform" / "ferry.db").exists()
    third = workspace.up()
    assert third["redeployed"] is False and third["deployment"]["number"] == 3

    # down --purge deletes the environment and says what it deleted.
    status = workspace.status()
    pids = [status["supervisor"], status["host"]["pid"], status["platform"]["pid"]]
    purged = json.loads(ferry(workspace.folder, "down", "--purge", "--json").stdout)
    deleted = purged["deleted"]
    assert purged["purged"] is True
    assert deleted["deployments"] == 3 and deleted["queues"] == 2
    # The app asked three times, each a response of the agent (the v2 app keeps no
    # conversation): its question, the tool call, the answer and the reply are items.
    assert deleted["runs and responses"] == 3 and deleted["messages and other items"] == 12
    assert deleted["function keys"] >= 3 and deleted["identity files (keys, certificates)"] >= 5
    assert not workspace.environment.exists()
    assert not (workspace.folder / ".ferry" / "environments").exists()
    assert not any(pid_alive(pid) for pid in pids)
    assert json.loads(ferry(workspace.folder, "status", "--json").stdout) == []


def test_a_broken_app_fails_up_clearly_and_a_fixed_one_takes_over(workspace: Workspace) -> None:
    source = workspace.app / "function_app.py"
    good = source.read_text()
    source.write_text(good + "\nraise RuntimeError('broken on purpose')\n")
    failed = ferry(workspace.folder, "up", "--app", "weather", *workspace.ports, check=False)
    assert failed.returncode == 1
    assert failed.stderr.startswith("error:")  # one line from the CLI, not its traceback
    assert "deployment 1 of 'weather' did not start" in failed.stderr
    assert "broken on purpose" in failed.stderr

    # The supervisor keeps retrying the broken host; fixed code replaces it.
    source.write_text(good)
    fixed = workspace.up()
    assert fixed["redeployed"] is True and fixed["deployment"]["number"] == 2
    answer = httpx.post(workspace.prompt_url(), json=QUESTION, timeout=60)
    assert "Weather is 74 degrees" in answer.json()["Answer"]

    # Broken again: up says so, and down still stops and purges everything.
    source.write_text(good + "\nraise RuntimeError('broken again')\n")
    failed = ferry(workspace.folder, "up", "--app", "weather", check=False)
    assert failed.returncode == 1 and "deployment 3 of 'weather' did not start" in failed.stderr
    purged = ferry(workspace.folder, "down", "--purge")
    assert "Purged" in purged.stdout
    assert not workspace.environment.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["up", "--app", "."], "has no function_app.py"),
        (["up", "--app", "weather", "--name", "Bad_Name"], "environment name 'Bad_Name'"),
        (["up", "--app", "weather", "--setting", "NOEQUALS"], "--setting takes NAME=VALUE"),
        (["up", "--app", "weather", "--http-port", "0"], "needs fixed ports"),
        (["down", "--name", "nothing"], "no environment 'nothing'"),
        (["down"], "no environments in"),
        (["logs", "--name", "nothing"], "no environment 'nothing'"),
        (["logs", "--source", "secrets"], "--source must be"),
    ],
)
def test_mistakes_get_one_clear_line(workspace: Workspace, args: list[str], message: str) -> None:
    finished = ferry(workspace.folder, *args, check=False)
    assert finished.returncode != 0
    assert message in finished.stderr, finished.stderr
    assert "Traceback" not in finished.stderr
    assert not (workspace.folder / ".ferry" / "environments").exists()  # nothing written


def test_logs_show_the_app_and_the_supervisor(workspace: Workspace) -> None:
    workspace.up()
    answer = httpx.post(workspace.prompt_url(), json=QUESTION, timeout=60)
    assert answer.status_code == 200
    host = ferry(workspace.folder, "logs", "-n", "200").stdout
    assert "weather asked for Seattle, WA" in host  # the app's own logging.info
    supervisor = ferry(workspace.folder, "logs", "--source", "supervisor").stdout
    assert "host" in supervisor and "is ready" in supervisor
    # -f keeps printing what is written after it started: here, the host being drained.
    follower = subprocess.Popen(
        [sys.executable, "-m", "ferry", "logs", "-f", "-n", "0", "--source", "supervisor"],
        cwd=workspace.folder,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(1)
        ferry(workspace.folder, "down")
        assert follower.stdout is not None
        followed = [follower.stdout.readline() for _ in range(2)]
        assert "stopping: the host first (drained), then the platform" in followed[0]
    finally:
        follower.kill()
        follower.communicate()
    ferry(workspace.folder, "down", "--purge")
