"""The reliability suites run short in CI; `make soak` sets FERRY_SOAK=1 for the long form
(more kills, more load, longer runs)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.agents.conftest import start_ferry, weather_ferry
from tests.conftest import IN_CI

__all__ = [
    "SOAK",
    "require_postgres_restart",
    "restart_postgres",
    "start_ferry",
    "weather_ferry",
]

SOAK = os.environ.get("FERRY_SOAK", "") == "1"


def require_postgres_restart() -> str:
    """The local cluster's version; skips (fails in CI) where it cannot be restarted."""
    clusters = sorted(Path("/etc/postgresql").glob("*/main"))
    if not clusters or os.geteuid() != 0:
        message = "restarting PostgreSQL needs root and a Debian cluster"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return clusters[-1].parent.name


def restart_postgres() -> None:
    """`pg_ctlcluster … restart` of the local cluster (every connection to it is cut)."""
    subprocess.run(
        [
            "pg_ctlcluster",
            "--skip-systemctl-redirect",
            require_postgres_restart(),
            "main",
            "restart",
        ],
        check=True,
        timeout=60,
    )
