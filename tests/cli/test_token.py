"""`ferry token`: a bearer token signed with the data folder's key, which the agents API and
the queue service of a deployment sharing that key accept."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ferry.identity.tokens import AGENT_AUDIENCES, STORAGE_AUDIENCES, TokenIssuer


def ferry(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ferry", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env={"COLUMNS": "200", "NO_COLOR": "1", "PATH": "/usr/bin:/bin"},
    )


def test_tokens_for_agents_and_storage(tmp_path: Path) -> None:
    data = tmp_path / "identity"
    plain = ferry("token", "--data", str(data), cwd=tmp_path)
    assert plain.returncode == 0, plain.stderr
    claims = TokenIssuer(data).verify(plain.stdout.strip(), AGENT_AUDIENCES)
    assert claims["aud"] == "https://ai.azure.com"
    storage = ferry(
        "token", "--resource", "https://storage.azure.com/.default", "--json", cwd=tmp_path
    )
    assert storage.returncode == 0, storage.stderr
    # Without --data: the default folder, ./.ferry, with a key of its own.
    described = json.loads(storage.stdout)
    assert described["resource"] == "https://storage.azure.com"
    assert (tmp_path / ".ferry" / "identity" / "signing-key.pem").is_file()
    scoped = ferry(
        "token",
        "--data",
        str(data),
        "--resource",
        "https://storage.azure.com",
        "--json",
        cwd=tmp_path,
    )
    value = json.loads(scoped.stdout)["access_token"]
    assert TokenIssuer(data).verify(value, STORAGE_AUDIENCES)["aud"] == "https://storage.azure.com"


def test_an_unknown_resource_is_a_clear_error(tmp_path: Path) -> None:
    result = ferry(
        "token", "--data", str(tmp_path), "--resource", "https://evil.example", cwd=tmp_path
    )
    assert result.returncode == 1
    assert "Ferry issues no tokens for the resource 'https://evil.example'" in result.stderr
    assert "Traceback" not in result.stderr
