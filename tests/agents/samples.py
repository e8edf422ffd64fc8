"""Running the official SDK samples, unchanged, as a user would: `python sample.py` in its
folder, with only environment variables set (`ferry env`'s and the samples' own)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import IN_CI

__all__ = ["client_environment", "run_sample", "samples_folder"]


def samples_folder(path: Path) -> Path:
    """`path` if `make test` has downloaded the samples there; otherwise a skip (a failure
    in CI)."""
    if not path.is_dir():
        message = f"{path} is missing: `make test` downloads the samples"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


def client_environment(data: Path) -> dict[str, str]:
    """This process's environment with what `ferry env` prints for the Ferry at `data`
    (the project endpoints, the identity endpoint, the CA bundle)."""
    printed = subprocess.run(
        [sys.executable, "-m", "ferry", "env", "--data", str(data), "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    return {**os.environ, **json.loads(printed.stdout)}


def run_sample(path: Path, env: dict[str, str]) -> str:
    """Run the sample at `path` in its own folder; its output (it must exit 0)."""
    finished = subprocess.run(
        [sys.executable, path.name],
        cwd=path.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert finished.returncode == 0, (finished.stdout + finished.stderr)[-4000:]
    return finished.stdout
