"""The seed's own client code (azure-ai-projects 1.0.0b10, `from_connection_string`, the
seed-era `/agents/v1.0/subscriptions/…` paths) in its own virtual environment, unchanged but
for its settings, against a real `ferry start` running the weather function app."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

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


def test_seed_client_code_runs_unchanged(start_ferry: StartFerry, seed_python: Path) -> None:
    ferry = start_ferry()
    agents = urlsplit(ferry.agents_url)
    env = {
        **os.environ,
        "PROJECT_CONNECTION_STRING": f"{agents.netloc};00000000-0000-0000-0000-000000000000;"
        "ferry-local;seed-project",
        "STORAGE_CONNECTION__queueServiceUri": ferry.queues_url,
        "REQUESTS_CA_BUNDLE": str(ferry.ca),
    }
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
