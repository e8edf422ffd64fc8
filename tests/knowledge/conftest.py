"""Fixtures of the knowledge tests: `ferry serve agents` on each store, and files to upload."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ferry.spawn import spawn
from tests.agents.conftest import Ferry
from tests.agents.v2.conftest import store_args
from tests.conftest import BACKENDS


@pytest.fixture(scope="module", params=BACKENDS)
def ferry(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Ferry]:
    """One `ferry serve agents` per store for a module; its tests use objects of their own."""
    data = tmp_path_factory.mktemp("knowledge")
    child = spawn(["serve", "agents", "--port", "0", *store_args(request.param, request)], data)
    yield Ferry(child, data)
    child.kill()
