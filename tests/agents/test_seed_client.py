"""The seed's own client code in virtual environments of their own (azure-ai-projects
1.0.0b10, and 1.0.0b2 whose names the seed's text uses: `from_connection_string`, the
seed-era `/agents/v1.0/subscriptions/…` paths), configured only by `ferry env`, against a
real `ferry start` running a weather function app."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.agents.conftest import Ferry, StartFerry

ROOT = Path(__file__).parent.parent.parent
CLIENTS = Path(__file__).parent / "clients"
SEED_CLIENTS = {
    # version → (its virtual environment, the client script for it)
    "1.0.0b10": (ROOT / ".venv-clients" / "seed", CLIENTS / "seed_scenario.py"),
    "1.0.0b2": (ROOT / ".venv-clients" / "seed-b2", CLIENTS / "seed_scenario_b2.py"),
}


def seed_python(version: str) -> Path:
    python = SEED_CLIENTS[version][0] / "bin" / "python"
    if not python.exists():
        message = f"{python} is missing: `make test` creates it (azure-ai-projects {version})"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return python


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_for(start_ferry: StartFerry, app: str) -> Ferry:
    """`weather` answers through an output binding; `seed_weather` is the seed's GetWeather
    itself, answering with a QueueClient, DefaultAzureCredential and the https queue URL."""
    if app == "weather":
        return start_ferry()
    port = free_port()
    queues = f"https://127.0.0.1:{port}/devstoreaccount1"
    return start_ferry(
        "--queue-tls-port", str(port), app=app, env={"STORAGE_CONNECTION__queueServiceUri": queues}
    )


@pytest.mark.parametrize(
    ("version", "app"),
    [("1.0.0b10", "weather"), ("1.0.0b10", "seed_weather"), ("1.0.0b2", "seed_weather")],
)
def test_seed_client_code_runs_unchanged(start_ferry: StartFerry, version: str, app: str) -> None:
    python = seed_python(version)
    ferry = start_for(start_ferry, app)
    printed = subprocess.run(
        [sys.executable, "-m", "ferry", "env", "--data", str(ferry.data), "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    env = {**os.environ, **json.loads(printed.stdout)}
    finished = subprocess.run(
        [str(python), str(SEED_CLIENTS[version][1])],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    result = json.loads(finished.stdout.strip().splitlines()[-1])
    assert result["status"] == "completed", result
    assert "74 degrees and sunny in Seattle, WA" in result["last_message"]
