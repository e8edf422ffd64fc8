"""Fixtures of the tool runtime's API tests: `ferry serve agents` on each store, with short
code timeouts, and the MCP and OpenAPI servers its agents call."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ferry.spawn import spawn
from tests.agents.conftest import Ferry
from tests.agents.v2.conftest import store_args
from tests.conftest import BACKENDS
from tests.fakes.mcp_server import McpTestServer
from tests.fakes.openapi_server import API_KEY, FakeOpenApiServer

CODE_TIMEOUT = 5
"""Seconds a code_interpreter call may run in these tests (an endless loop ends sooner)."""


@pytest.fixture(scope="module", params=BACKENDS)
def ferry(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Ferry]:
    data = tmp_path_factory.mktemp("tools")
    env = {
        "FERRY_CODE_TIMEOUT": str(CODE_TIMEOUT),
        "FERRY_MCP_TIMEOUT": "5",
        "FERRY_CONNECTION_WEATHER_KEY": API_KEY,  # the key of connection `weather-key`
        "FERRY_CONNECTION_LOCAL_MCP": "mcp-s3cret",
    }
    args = ["serve", "agents", "--port", "0", *store_args(request.param, request)]
    child = spawn(args, data, env=env)
    yield Ferry(child, data)
    child.kill()


@pytest.fixture(scope="module")
def mcp_server() -> Iterator[McpTestServer]:
    with McpTestServer() as server:
        yield server


@pytest.fixture(scope="module")
def sse_server() -> Iterator[McpTestServer]:
    with McpTestServer(transport="sse") as server:
        yield server


@pytest.fixture(scope="module")
def api_server() -> Iterator[FakeOpenApiServer]:
    with FakeOpenApiServer() as server:
        yield server
