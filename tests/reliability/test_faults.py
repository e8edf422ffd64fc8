"""Faults outside the client's control: an unusable data folder, a full disk, an output queue
deleted under a waiting run, and PostgreSQL restarted under load. Each ends in a clear error
or in recovery, never in a hang, a traceback or lost acknowledged work.

(Other model backend faults — 500s, malformed tool calls, a cut-off answer — are in
tests/agents/test_run_inputs.py.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.core.exceptions import AzureError, HttpResponseError
from azure.storage.queue import QueueClient

from ferry.spawn import spawn
from tests.agents.conftest import Ferry, StartFerry
from tests.agents.test_runs_ga import wait_for, weather_tool
from tests.conftest import IN_CI
from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.functions.conftest import connection_string, queue_client
from tests.reliability.conftest import SOAK, require_postgres_restart, restart_postgres

pytestmark = pytest.mark.slow


@pytest.fixture
def mounts(tmp_path: Path) -> Iterator[list[Path]]:
    """Folders mounted for a test (read-only binds, tiny tmpfs); unmounted afterwards."""
    if os.geteuid() != 0:
        message = "mounting a read-only or full file system needs root"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    mounted: list[Path] = []
    yield mounted
    for path in reversed(mounted):
        subprocess.run(["umount", str(path)], check=False)


def _mount(mounted: list[Path], path: Path, *args: str) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", *args, str(path)], check=True)
    mounted.append(path)
    return path


def _ferry(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ferry", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "300", "NO_COLOR": "1"},
    )


def test_a_read_only_data_folder_is_a_clear_error(tmp_path: Path, mounts: list[Path]) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    _mount(mounts, folder, "--bind", "-o", "ro", str(folder))
    for command in (["serve", "queues", "--port", "0"], ["serve", "agents", "--port", "0"]):
        result = _ferry(*command, "--data", str(folder))
        assert result.returncode == 1, result
        output = result.stdout + result.stderr
        assert f"the data folder {folder} is not writable" in output, output
        assert "Traceback" not in output


def test_a_full_disk_at_start_is_a_clear_error(tmp_path: Path, mounts: list[Path]) -> None:
    folder = _mount(mounts, tmp_path / "full", "-t", "tmpfs", "-o", "size=32k", "tmpfs")
    result = _ferry("serve", "queues", "--port", "0", "--data", str(folder))
    assert result.returncode == 1, result
    output = result.stdout + result.stderr
    assert f"{folder}/ferry.db" in output and "error" in output, output
    assert "Traceback" not in output


def test_a_disk_that_fills_while_running_refuses_writes_and_keeps_what_it_has(
    tmp_path: Path, mounts: list[Path]
) -> None:
    """The data folder's disk fills up under puts: each put that no longer fits is refused
    with 503 ServerBusy (retry later), reads go on, nothing acknowledged is lost or damaged,
    and once space is freed puts succeed again without a restart."""
    folder = _mount(mounts, tmp_path / "small", "-t", "tmpfs", "-o", "size=4m", "tmpfs")
    filler = folder / "filler"
    filler.write_bytes(b"\0" * 1024 * 1024)  # to free later
    server = spawn(["serve", "queues", "--port", "0"], folder, log=tmp_path / "ferry.log")
    try:
        queue = QueueClient.from_connection_string(
            connection_string(server.url("queues")), "filling", retry_total=0
        )
        queue.create_queue()
        acknowledged: dict[str, str] = {}
        refusals: list[tuple[int | None, str | None]] = []
        for number in range(400):  # 400 × 48 KB is far more than the disk holds
            body = f"{number}:" + chr(0x41 + number % 26) * 48_000
            try:
                queue.send_message(body)
                acknowledged[str(number)] = body
            except HttpResponseError as exc:
                refusals.append((exc.status_code, exc.error_code))
                if len(refusals) == 5:
                    break
        assert refusals, "the disk never filled"
        assert set(refusals) == {(503, "ServerBusy")}, refusals
        assert len(acknowledged) > 10

        peeked = list(queue.peek_messages(max_messages=5))  # reads still work
        assert [m.content for m in peeked] == [acknowledged[str(n)] for n in range(5)]

        filler.unlink()
        queue.send_message("after the disk was freed")
        stored: dict[str, str] = {}
        while batch := list(queue.receive_messages(max_messages=32, visibility_timeout=300)):
            stored.update((m.content.split(":", 1)[0], m.content) for m in batch)
        assert "after the disk was freed" in stored
        for number, body in acknowledged.items():
            assert stored[number] == body, number  # every acknowledged put, intact
        print(f"acknowledged={len(acknowledged)} refused={len(refusals)} before space was freed")
    finally:
        server.kill()


def test_a_deleted_output_queue_ends_the_run_at_its_deadline(start_ferry: StartFerry) -> None:
    """Nobody will ever answer: the run fails when the tool's time is up, saying why."""
    ferry = start_ferry()
    tool = weather_tool(ferry.queues_url)
    tool.definitions[0]["azure_function"]["input_binding"]["storage_queue"]["queue_name"] = (
        "nobody-listens"
    )
    with ferry.agents() as client:
        agent = client.create_agent(
            model="gpt-4o-mini",
            name="orphan",
            tools=tool.definitions,
            metadata={"ferry_tool_timeout": "3"},
        )
        thread = client.threads.create()
        client.messages.create(thread_id=thread.id, role="user", content="weather in Oslo")
        run = client.runs.create(thread_id=thread.id, agent_id=agent.id)
        wait_for(client, thread.id, run.id, {"in_progress"})
        output = queue_client(ferry.queues_url, "output")
        deadline = time.monotonic() + 10
        while True:  # the engine creates the output queue when it puts the call
            try:
                output.delete_queue()
                break
            except AzureError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        began = time.monotonic()
        run = wait_for(client, thread.id, run.id, {"failed", "completed"}, timeout=20)
        assert run.status == "failed"
        assert run.last_error.code == "tool_timeout"
        assert "GetWeather" in run.last_error.message
        assert time.monotonic() - began < 10


def test_a_model_server_that_hangs_fails_the_run_with_timeout(tmp_path: Path) -> None:
    """The model answers after 5 s; the agent's model is configured with a 0.5 s timeout and
    no retries (`[models]` given as FERRY_MODELS): the run fails saying so, and the service
    goes on answering."""
    with FakeOpenAIServer() as model:
        model.default = Reply(text="too late", delay=5.0)
        settings = {
            "*": {
                "backend": "openai",
                "base_url": model.base_url,
                "api_key": "sk-test",
                "timeout": 0.5,
                "max_retries": 0,
            }
        }
        data = tmp_path / "data"
        child = spawn(
            ["serve", "agents", "--port", "0"], data, env={"FERRY_MODELS": json.dumps(settings)}
        )
        try:
            ferry = Ferry(child, data)
            with ferry.agents() as client:
                agent = client.create_agent(model="slow-model", name="hang")
                thread = client.threads.create()
                client.messages.create(thread_id=thread.id, role="user", content="Hello?")
                run = client.runs.create(thread_id=thread.id, agent_id=agent.id)
                began = time.monotonic()
                run = wait_for(client, thread.id, run.id, {"failed", "completed"}, timeout=20)
                assert run.status == "failed"
                assert run.last_error.code == "timeout", run.last_error
                assert "timed out" in run.last_error.message
                assert time.monotonic() - began < 5
                assert list(client.list_agents())
        finally:
            child.kill()


@pytest.mark.postgres
def test_postgres_restarted_under_load_loses_no_acknowledged_put(
    tmp_path: Path, postgres_databases: object
) -> None:
    """`pg_ctlcluster … restart` while clients put messages through `ferry serve queues`:
    puts fail (503/500) while the database is down, the service recovers on its own, and every
    put that was acknowledged is there afterwards."""
    require_postgres_restart()
    url = postgres_databases()  # type: ignore[operator]
    server = spawn(["serve", "queues", "--port", "0", "--database-url", url], tmp_path / "d")
    try:
        queue = queue_client(server.url("queues"), "under-restart", base64=False)
        queue.create_queue()
        acknowledged: list[str] = []
        refused = 0
        stop = threading.Event()

        def load() -> None:
            nonlocal refused
            number = 0
            while not stop.is_set():
                number += 1
                try:
                    queue.send_message(f"m{number}")
                    acknowledged.append(f"m{number}")
                except AzureError:
                    refused += 1
                    time.sleep(0.05)

        threads = [threading.Thread(target=load, daemon=True)]
        for thread in threads:
            thread.start()
        for _ in range(3 if SOAK else 1):
            time.sleep(1.0)
            restart_postgres()
        before = len(acknowledged)
        deadline = time.monotonic() + 30
        while len(acknowledged) < before + 20:  # puts succeed again, without a restart
            assert time.monotonic() < deadline, f"no recovery; refused={refused}"
            time.sleep(0.1)
        stop.set()
        for thread in threads:
            thread.join(10)
        stored: list[str] = []
        while batch := list(queue.receive_messages(max_messages=32, visibility_timeout=300)):
            stored += [m.content for m in batch]
        assert set(acknowledged) <= set(stored)
        assert len(stored) == len(set(stored))
        print(f"acknowledged={len(acknowledged)} refused while down={refused}")
    finally:
        server.kill()
