"""The `mcp` tool's client against real MCP servers (the SDK's own) over real HTTP."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator

import pytest
from mcp_types import (
    BlobResourceContents,
    CallToolResult,
    EmbeddedResource,
    ResourceLink,
    TextContent,
    TextResourceContents,
)

from ferry.errors import FerryError
from ferry.tools.errors import McpError, McpTimeout, McpUnavailable
from ferry.tools.mcp.client import McpClient, McpResult, McpToolInfo, _render
from tests.fakes.mcp_server import McpTestServer, StatusServer

TRANSPORTS = ["streamable_http", "sse"]
TOOLS = {"search_azure_rest_api_code", "add", "fail", "slow", "chart", "whoami"}


@pytest.fixture(scope="module", params=TRANSPORTS)
def shared(request: pytest.FixtureRequest) -> Iterator[McpTestServer]:
    with McpTestServer(transport=request.param) as server:
        yield server


@pytest.fixture
def server(shared: McpTestServer) -> McpTestServer:
    """The module's server for this transport, with its records cleared."""
    shared.calls.clear()
    shared.seen_headers.clear()
    shared.post_status = None
    return shared


def client(server: McpTestServer, **kwargs: object) -> McpClient:
    """A client that names the server's transport (auto-detection has tests of its own)."""
    return McpClient(server.url, transport=server.transport, **kwargs)  # type: ignore[arg-type]


def unused_url(path: str) -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


# -- listing and calling ---------------------------------------------------------------------


async def test_list_tools_gives_names_descriptions_and_schemas(server: McpTestServer) -> None:
    tools = {tool.name: tool for tool in await client(server).list_tools()}

    assert set(tools) == TOOLS
    add = tools["add"]
    assert isinstance(add, McpToolInfo)
    assert add.description == "Add two integers."
    assert add.input_schema["type"] == "object"
    assert add.input_schema["properties"]["a"]["type"] == "integer"
    assert sorted(add.input_schema["required"]) == ["a", "b"]
    assert add.annotations is None
    search = tools["search_azure_rest_api_code"]
    assert search.input_schema["properties"]["query"]["type"] == "string"
    assert search.annotations == {"readOnlyHint": True, "openWorldHint": True}
    assert tools["whoami"].input_schema["properties"] == {}
    assert server.calls == []


async def test_call_tool_gives_the_output(server: McpTestServer) -> None:
    mcp = client(server)

    found = await mcp.call_tool("search_azure_rest_api_code", {"query": "queue storage"})
    added = await mcp.call_tool("add", {"a": 2, "b": 40})

    assert found.is_error is False
    assert found.output.startswith("Found 3 specifications for 'queue storage': ")
    assert added == McpResult(output="42", is_error=False)
    assert server.calls == [
        ("search_azure_rest_api_code", {"query": "queue storage"}),
        ("add", {"a": 2, "b": 40}),
    ]


async def test_images_are_described_not_pasted(server: McpTestServer) -> None:
    result = await client(server).call_tool("chart", {})

    assert result == McpResult(output="A chart:\n[image/png, 1234 bytes]", is_error=False)


async def test_a_failing_tool_is_an_error_result_with_its_message(server: McpTestServer) -> None:
    result = await client(server).call_tool("fail", {"message": "the index is offline"})

    assert result.is_error is True
    assert "the index is offline" in result.output
    assert server.calls == [("fail", {"message": "the index is offline"})]


async def test_an_unknown_tool_is_an_error_result(server: McpTestServer) -> None:
    result = await client(server).call_tool("no_such_tool", {"x": 1})

    assert result.is_error is True
    assert "no_such_tool" in result.output
    assert server.calls == []


async def test_bad_arguments_are_an_error_result(server: McpTestServer) -> None:
    result = await client(server).call_tool("add", {"a": "two"})

    assert result.is_error is True
    assert result.output


async def test_headers_reach_the_server_on_every_request(server: McpTestServer) -> None:
    bearer = client(server, headers={"Authorization": "Bearer t0ken"})
    secret = client(server, headers={"SuperSecret": "open sesame"})

    assert (await bearer.call_tool("whoami", {})).output == "Bearer t0ken"
    assert server.seen_headers  # GETs of the event stream, POSTs, the closing DELETE
    assert all(h.get("authorization") == "Bearer t0ken" for h in server.seen_headers)
    assert (await secret.call_tool("whoami", {})).output == "open sesame"
    assert (await client(server).call_tool("whoami", {})).output == "anonymous"


async def test_a_session_holds_one_connection_for_several_requests(
    server: McpTestServer,
) -> None:
    async with client(server, headers={"Authorization": "Bearer s"}) as session:
        assert session.transport == server.transport
        tools = await session.list_tools()
        first = await session.call_tool("add", {"a": 1, "b": 2})
        second = await session.call_tool("whoami", {})

    assert {tool.name for tool in tools} == TOOLS
    assert (first.output, second.output) == ("3", "Bearer s")
    assert server.calls == [("add", {"a": 1, "b": 2}), ("whoami", {})]


def test_usable_from_sync_code() -> None:
    with McpTestServer() as server:
        result = asyncio.run(McpClient(server.url).call_tool("add", {"a": 1, "b": 1}))

    assert result.output == "2"


@pytest.mark.parametrize("options", [{"stateless": True}, {"json_response": True}])
async def test_stateless_and_json_servers(options: dict[str, bool]) -> None:
    with McpTestServer(**options) as server:  # type: ignore[arg-type]
        result = await McpClient(server.url).call_tool("add", {"a": 5, "b": 6})

    assert result.output == "11"


# -- timeouts and cancellation ---------------------------------------------------------------


async def test_a_slow_tool_beyond_the_timeout_raises_mcp_timeout(server: McpTestServer) -> None:
    started = time.monotonic()
    with pytest.raises(McpTimeout) as caught:
        await client(server, timeout=1.0).call_tool("slow", {"seconds": 4})

    assert time.monotonic() - started < 2.0
    assert server.url in str(caught.value)
    assert "1 s" in str(caught.value)


@pytest.mark.parametrize("transport", ["auto", *TRANSPORTS])
async def test_a_server_that_never_answers_raises_mcp_timeout(transport: str) -> None:
    """Connecting counts against the timeout too: here the TCP connection opens and no HTTP
    answer ever comes."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/mcp"
        started = time.monotonic()
        with pytest.raises(McpTimeout, match="within 0.5 s"):
            await McpClient(url, transport=transport, timeout=0.5).list_tools()  # type: ignore[arg-type]

    assert time.monotonic() - started < 1.5


async def test_a_session_survives_a_timed_out_request(server: McpTestServer) -> None:
    async with client(server, timeout=0.5) as session:
        with pytest.raises(McpTimeout):
            await session.call_tool("slow", {"seconds": 3})
        result = await session.call_tool("add", {"a": 1, "b": 2})

    assert result.output == "3"


async def test_the_callers_cancellation_goes_through_untouched(server: McpTestServer) -> None:
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(client(server).call_tool("slow", {"seconds": 4}), 0.3)

    assert time.monotonic() - started < 1.5
    await asyncio.sleep(0.05)
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_cancelling_the_task_cancels_the_call(server: McpTestServer) -> None:
    task = asyncio.create_task(client(server).call_tool("slow", {"seconds": 4}))
    await asyncio.sleep(0.3)
    task.cancel()

    with pytest.raises(asyncio.CancelledError):
        await task
    assert asyncio.all_tasks() == {asyncio.current_task()}


# -- servers that cannot be used -------------------------------------------------------------


@pytest.mark.parametrize("transport", ["auto", *TRANSPORTS])
async def test_nothing_listening_raises_mcp_unavailable_quickly(transport: str) -> None:
    url = unused_url("/mcp")
    started = time.monotonic()
    with pytest.raises(McpUnavailable) as caught:
        await McpClient(url, transport=transport, timeout=10).list_tools()  # type: ignore[arg-type]

    assert time.monotonic() - started < 2.0
    assert url in str(caught.value)
    assert "connection refused" in str(caught.value)


@pytest.mark.parametrize("transport", ["auto", *TRANSPORTS])
@pytest.mark.parametrize("status", [404, 500])
async def test_an_http_error_status_raises_mcp_unavailable_naming_it(
    transport: str, status: int
) -> None:
    with StatusServer(status) as server, pytest.raises(McpUnavailable) as caught:
        mcp = McpClient(server.url, transport=transport, timeout=10)  # type: ignore[arg-type]
        await mcp.call_tool("add", {})

    assert f"HTTP {status}" in str(caught.value)
    assert server.url in str(caught.value)


async def test_the_wrong_path_on_an_mcp_server_is_a_404() -> None:
    with McpTestServer() as server:
        url = f"{server.base_url}/wrong"
        with pytest.raises(McpUnavailable, match="HTTP 404") as caught:
            await McpClient(url, transport="streamable_http").list_tools()

    assert url in str(caught.value)


async def test_a_refused_request_mid_session_is_reported_at_once(server: McpTestServer) -> None:
    """Over SSE the SDK only logs a refused post: the request must not wait out its timeout."""
    async with client(server, timeout=20) as session:
        server.post_status = 503
        started = time.monotonic()
        with pytest.raises(McpUnavailable, match="HTTP 503") as caught:
            await session.call_tool("add", {"a": 1, "b": 2})

    assert time.monotonic() - started < 2.0
    assert "to POST" in str(caught.value)
    assert server.url in str(caught.value)


# -- transport detection ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("transport", "path"),
    [
        ("streamable_http", "/mcp"),
        ("sse", "/sse"),  # the path says SSE: tried first
        ("sse", "/events"),  # POST answers 405: falls back to SSE
        ("streamable_http", "/api/sse"),  # SSE's GET answers 405: falls back
    ],
)
async def test_auto_picks_the_servers_transport(transport: str, path: str) -> None:
    with McpTestServer(transport=transport, path=path) as server:  # type: ignore[arg-type]
        async with McpClient(server.url) as session:
            chosen = session.transport
            result = await session.call_tool("add", {"a": 20, "b": 3})
        tools = await McpClient(server.url).list_tools()

    assert chosen == transport
    assert result.output == "23"
    assert {tool.name for tool in tools} == TOOLS


async def test_the_wrong_transport_named_is_unavailable(server: McpTestServer) -> None:
    other = "sse" if server.transport == "streamable_http" else "streamable_http"

    with pytest.raises(McpUnavailable, match=r"HTTP 40\d"):
        await McpClient(server.url, transport=other).list_tools()  # type: ignore[arg-type]


# -- the API's edges -------------------------------------------------------------------------


def test_errors_are_ferry_errors() -> None:
    assert issubclass(McpError, FerryError)
    assert issubclass(McpTimeout, McpError)
    assert issubclass(McpUnavailable, McpError)


@pytest.mark.parametrize("kwargs", [{"transport": "websocket"}, {"timeout": 0}, {"timeout": -1.0}])
def test_settings_are_checked(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        McpClient("http://127.0.0.1/mcp", **kwargs)  # type: ignore[arg-type]


def test_messages_leave_out_credentials_and_query() -> None:
    mcp = McpClient("https://user:pw@mcp.example.com:8443/api/mcp?key=secret")

    assert mcp.display_url == "https://mcp.example.com:8443/api/mcp"
    assert McpClient("http://[::1]:9000/sse").display_url == "http://[::1]:9000/sse"


def test_rendering_of_other_content() -> None:
    structured = CallToolResult(content=[], structured_content={"temperature": 21.5})
    resources = CallToolResult(
        content=[
            TextContent(text="Two files:"),
            EmbeddedResource(resource=TextResourceContents(uri="file:///a.txt", text="alpha")),
            EmbeddedResource(
                resource=BlobResourceContents(
                    uri="file:///b.bin", mime_type="application/zip", blob="AAECAwQ="
                )
            ),
            ResourceLink(name="spec", uri="https://example.com/spec.json"),
        ]
    )

    assert _render(structured) == '{"temperature": 21.5}'
    assert _render(resources) == (
        "Two files:\nalpha\n[resource file:///b.bin, application/zip, 5 bytes]\n"
        "[resource link spec: https://example.com/spec.json]"
    )
