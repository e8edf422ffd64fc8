"""Schemathesis against the agents API's own OpenAPI document (coverage, fuzzing and stateful
phases): whatever it sends, a real `ferry serve agents` never answers with a 5xx."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ferry.spawn import spawn
from tests.agents.conftest import Ferry

pytestmark = pytest.mark.slow


def test_no_request_gets_a_server_error(tmp_path: Path) -> None:
    data = tmp_path / "data"
    child = spawn(["serve", "agents", "--port", "0"], data)
    ferry = Ferry(child, data)
    try:
        run = subprocess.run(
            [
                str(Path(sys.executable).parent / "schemathesis"),
                "run",
                f"{ferry.agents_url}/openapi.json",
                "--header",
                f"Authorization: Bearer {ferry.token()}",
                "--checks",
                "not_a_server_error",
                "--max-examples",
                "15",
                "--tls-verify",
                str(ferry.ca),
                "--no-color",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "SCHEMATHESIS_HOOKS": ""},
            cwd=tmp_path,
        )
        report = run.stdout + run.stderr
        assert run.returncode == 0, report[-4000:]
        assert "passed" in report and "generated" in report
        # Ferry is still serving afterwards.
        assert child.process.poll() is None
    finally:
        child.kill()
