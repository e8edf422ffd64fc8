"""Running the official SDK samples, unchanged, as a user would: `python sample.py` in its
folder, with only environment variables set (`ferry env`'s and the samples' own)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ferry.spawn import Child, spawn
from tests.conftest import IN_CI

__all__ = ["client_environment", "run_sample", "samples_folder", "start_for_samples"]


def samples_folder(path: Path) -> Path:
    """`path` if `make test` has downloaded the samples there; otherwise a skip (a failure
    in CI)."""
    if not path.is_dir():
        message = f"{path} is missing: `make test` downloads the samples"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


def start_for_samples(
    root: Path,
    app: Path,
    model: tuple[str, str],
    store: list[str],
    env: dict[str, str] | None = None,
) -> Child:
    """`ferry start` (every port free) on `app` and the store `store` names, with the model
    named `model[0]` served by the OpenAI-compatible server at `model[1]` (every other name:
    the scripted rules); its data folder is `root/data`."""
    config = root / "ferry.toml"
    config.write_text(
        f'[models."{model[0]}"]\nbackend = "openai"\nbase_url = "{model[1]}"\napi_key = "sk-test"\n'
    )
    args = ["start", "--app", str(app), "--config", str(config)]
    args += ["--queue-port", "0", "--http-port", "0", "--agents-port", "0"]
    args += ["--queue-tls-port", "0", "--identity-port", "0"]
    return spawn([*args, *store], root / "data", env=env)


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


def run_sample(path: Path, env: dict[str, str], *, python: str = sys.executable) -> str:
    """Run the sample at `path` in its own folder (with the client of `python`); its output
    (it must exit 0)."""
    finished = subprocess.run(
        [python, path.name],
        cwd=path.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert finished.returncode == 0, (finished.stdout + finished.stderr)[-4000:]
    return finished.stdout
