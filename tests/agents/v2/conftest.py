"""Fixtures of the v2 API's tests: `ferry serve agents` on each store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ferry.spawn import spawn
from tests.agents.conftest import Ferry
from tests.conftest import BACKENDS


def store_args(backend: str, request: pytest.FixtureRequest) -> list[str]:
    """The options that put a Ferry process on `backend`: SQLite in its data folder (none),
    or a fresh PostgreSQL database."""
    if backend == "postgres":
        return ["--database-url", request.getfixturevalue("postgres_databases")()]
    return []


@pytest.fixture(scope="module", params=BACKENDS)
def ferry(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Ferry]:
    """One `ferry serve agents` per store for a module; its tests use objects of their own."""
    data = tmp_path_factory.mktemp("agents-v2")
    child = spawn(["serve", "agents", "--port", "0", *store_args(request.param, request)], data)
    yield Ferry(child, data)
    child.kill()
