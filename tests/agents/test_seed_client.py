"""The seed's own client code (azure-ai-projects 1.0.0b10, `from_connection_string`, the
seed-era `/agents/v1.0/subscriptions/…` paths) in its own virtual environment, unchanged but
for its settings, against a real `ferry start` running the weather function app."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.agents.conftest import StartFerry

ROOT = Path(__file__).parent.parent.parent
SEED_PYTHON = ROOT / ".venv-clients" / "seed" / "bin" / "python"


@pytest.fixture
def seed_python() -> Path:
    if not SEED_PYTHON.exists():
        message = f"{SEED_PYTHON} is missing: `make test` creates it (azure-ai-projects 1.0.0b10)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return SEED_PYTHON


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("app", ["weather", "seed_weather"])
def test_seed_client_code_runs_unchanged(
    start_ferry: StartFerry, seed_python: Path, app: str
) -> None:
    """`weather` answers through an output binding; `seed_weather` is the seed's GetWeather
    itself, answering with a QueueClient, DefaultAzureCredential and the https queue URL."""
    if app == "weather":
        ferry = start_ferry()
    else:
        port = free_port()
        queues = f"https://127.0.0.1:{port}/devstoreaccount1"
        ferry = start_ferry(
            "--queue-tls-port",
            str(port),
            app=app,
            env={"STORAGE_CONNECTION__queueServiceUri": queues},
        )
    printed = subprocess.run(
        [sys.executable, "-m", "ferry", "env", "--data", str(ferry.data), "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    env = {**os.environ, **json.loads(printed.stdout)}
    finished = subprocess.run(
        [str(seed_python), str(Path(__file__).parent / "clients" / "seed_scenario.py")],
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
