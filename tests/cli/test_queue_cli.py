"""`ferry queue …` against a real server, found through its data folder."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest

from ferry.spawn import Child
from tests.conftest import ServerFactory


def ferry(*args: str, data: Path | None = None) -> subprocess.CompletedProcess[str]:
    extra = ["--data", str(data)] if data else []
    return subprocess.run(
        [sys.executable, "-m", "ferry", *args, *extra],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Child:
    from ferry.spawn import spawn

    data = tmp_path_factory.mktemp("cli")
    child = spawn(["serve", "queues", "--port", "0"], data)
    yield child  # type: ignore[misc]
    child.kill()


def test_create_put_peek_pop_clear_rm(server: Child) -> None:
    data = server.data
    assert ferry("queue", "create", "work", data=data).returncode == 0
    put = ferry(
        "queue", "put", "work", '{"location": "Seattle, WA"}', "--base64", "--json", data=data
    )
    assert put.returncode == 0, put.stderr
    assert json.loads(put.stdout)[0]["text"] == '{"location": "Seattle, WA"}'
    peek = json.loads(ferry("queue", "peek", "work", "--json", data=data).stdout)
    assert base64.b64decode(peek[0]["text"]) == b'{"location": "Seattle, WA"}'
    listed = json.loads(ferry("queue", "ls", "--json", data=data).stdout)
    assert {"name": "work", "messages": 1, "metadata": {}} in listed
    popped = json.loads(ferry("queue", "pop", "work", "--base64", "--json", data=data).stdout)
    assert popped[0]["text"] == '{"location": "Seattle, WA"}'
    assert json.loads(ferry("queue", "peek", "work", "--json", data=data).stdout) == []
    ferry("queue", "put", "work", "x", data=data)
    assert ferry("queue", "clear", "work", data=data).returncode == 0
    assert json.loads(ferry("queue", "peek", "work", "--json", data=data).stdout) == []
    assert ferry("queue", "rm", "work", data=data).returncode == 0
    assert "work" not in ferry("queue", "ls", data=data).stdout


def test_human_output_is_a_table(server: Child) -> None:
    ferry("queue", "create", "tabled", data=server.data)
    out = ferry("queue", "ls", data=server.data).stdout
    assert "tabled" in out and "messages" in out


def test_errors_are_one_clear_line(server: Child, tmp_path: Path) -> None:
    missing = ferry("queue", "peek", "nosuchqueue", data=server.data)
    assert missing.returncode == 1
    assert "QueueNotFound" in missing.stderr and "Traceback" not in missing.stderr
    nothing_running = ferry("queue", "ls", data=tmp_path)
    assert nothing_running.returncode == 1
    assert "no running Ferry instance" in nothing_running.stderr
    bad_name = ferry("queue", "create", "Bad_Name", data=server.data)
    assert bad_name.returncode == 1 and "InvalidResourceName" in bad_name.stderr


def test_connection_string_targets_any_account(
    queue_server_factory: ServerFactory, tmp_path: Path
) -> None:
    other = queue_server_factory()
    proxy = other.url("queues").rsplit("/", 1)[0]
    conn = f"UseDevelopmentStorage=true;DevelopmentStorageProxyUri={proxy}"
    result = subprocess.run(
        [sys.executable, "-m", "ferry", "queue", "create", "viaconn", "--connection-string", conn],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "viaconn" in ferry("queue", "ls", data=other.data).stdout


def test_serve_reports_a_taken_port(server: Child, tmp_path: Path) -> None:
    port = server.url("queues").rsplit(":", 1)[1].split("/")[0]
    result = ferry("serve", "queues", "--port", port, data=tmp_path)
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


def test_bad_settings_are_reported(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ferry", "serve", "queues", "--data", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"FERRY_QUEUE_PORT": "not-a-port", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 1
    assert "queue_port" in result.stderr
