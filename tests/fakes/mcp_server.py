"""Real MCP servers for tests, built with the official SDK and served over real HTTP.

Each `McpTestServer` runs an `MCPServer` (the SDK's FastMCP) under uvicorn on a free
127.0.0.1 port, on its own thread and event loop, so sync and async tests can both use it.
It speaks one transport: Streamable HTTP (at `/mcp`) or the older HTTP+SSE pair (`/sse` for
the event stream, `/messages/` for posts). Every tool call that reaches it is recorded::

    with McpTestServer(transport="sse") as server:
        client = McpClient(server.url)
        ...
        assert server.calls == [("add", {"a": 1, "b": 2})]

The tools: `search_azure_rest_api_code(query)`, `add(a, b)`, `fail(message)` (a tool error
carrying `message`), `slow(seconds)`, `chart()` (a caption and a 1234-byte PNG) and
`whoami()` (the `Authorization` or `SuperSecret` header of the request that carried the call).
Options: another endpoint `path`, a `stateless` or `json_response` Streamable HTTP server, and
`post_status` (settable any time) to refuse every POST with that status. `StatusServer`
answers every request with one status, for clients pointed at something that is not MCP.
"""

from __future__ import annotations

import asyncio
import base64
import threading
import time
from typing import Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ImageContent, TextContent, ToolAnnotations
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from tests.fakes.serving import Served, serve

__all__ = ["McpTestServer", "StatusServer"]

Transport = Literal["streamable_http", "sse"]


class McpTestServer:
    """One MCP server over one HTTP transport, on a background thread."""

    def __init__(
        self,
        transport: Transport = "streamable_http",
        *,
        path: str | None = None,
        stateless: bool = False,
        json_response: bool = False,
    ) -> None:
        self.transport: Transport = transport
        self.path = path or ("/mcp" if transport == "streamable_http" else "/sse")
        """Where the endpoint is: `/mcp` or `/sse` unless told (SSE posts go to `/messages/`)."""
        self.stateless = stateless
        self.json_response = json_response
        self.calls: list[tuple[str, dict[str, Any]]] = []
        """(tool name, arguments) of every tool call received, in order."""
        self.seen_headers: list[dict[str, str]] = []
        """The headers of every HTTP request received (lower-cased names), in order."""
        self.post_status: int | None = None
        """When set, every POST is answered with this status (and an empty body) instead."""
        self.port = 0
        self._lock = threading.Lock()
        self._served: Served | None = None
        self._stopping = False

    # -- addresses ---------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The endpoint an MCP client is given."""
        return f"{self.base_url}{self.path}"

    # -- the MCP server ----------------------------------------------------------------------

    def _record(self, name: str, arguments: dict[str, Any]) -> None:
        with self._lock:
            self.calls.append((name, arguments))

    def _mcp(self) -> MCPServer:
        mcp: MCPServer = MCPServer("ferry-test", log_level="WARNING")

        @mcp.tool(annotations=ToolAnnotations(read_only_hint=True, open_world_hint=True))
        def search_azure_rest_api_code(query: str) -> str:
            """Search the Azure REST API specifications for code samples."""
            self._record("search_azure_rest_api_code", {"query": query})
            return (
                f"Found 3 specifications for '{query}': "
                "storage/queue.json, storage/blob.json, compute/vm.json"
            )

        @mcp.tool()
        def add(a: int, b: int) -> int:
            """Add two integers."""
            self._record("add", {"a": a, "b": b})
            return a + b

        @mcp.tool()
        def fail(message: str) -> str:
            """Always fail, with `message` as the error."""
            self._record("fail", {"message": message})
            raise ToolError(message)

        @mcp.tool()
        async def slow(seconds: float) -> str:
            """Sleep for `seconds`, then answer."""
            self._record("slow", {"seconds": seconds})
            deadline = time.monotonic() + seconds
            while not self._stopping and time.monotonic() < deadline:  # stop() cuts it short
                await asyncio.sleep(min(0.05, max(deadline - time.monotonic(), 0)))
            return f"slept {seconds}s"

        @mcp.tool()
        def chart() -> list[TextContent | ImageContent]:
            """A caption and a 1234-byte PNG (not a real picture)."""
            self._record("chart", {})
            data = base64.b64encode(b"\x89PNG" + bytes(1230)).decode()
            return [TextContent(text="A chart:"), ImageContent(data=data, mime_type="image/png")]

        @mcp.tool()
        def whoami(ctx: Context) -> str:
            """The Authorization (or SuperSecret) header this call arrived with."""
            self._record("whoami", {})
            request = ctx.request_context.request
            headers = request.headers if isinstance(request, Request) else {}
            return str(headers.get("authorization") or headers.get("supersecret") or "anonymous")

        return mcp

    def _app(self) -> Starlette:
        mcp = self._mcp()
        if self.transport == "sse":
            app = mcp.sse_app(sse_path=self.path)
        else:
            app = mcp.streamable_http_app(
                streamable_http_path=self.path,
                stateless_http=self.stateless,
                json_response=self.json_response,
            )
        app.add_middleware(_Gate, server=self)
        return app

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> McpTestServer:
        self._stopping = False
        self._served = serve(self._app(), "fake-mcp", lifespan="on", loop="auto")
        self.port = self._served.port
        return self

    def stop(self) -> None:
        self._stopping = True
        if self._served is not None:
            self._served.stop()
        self._served = None

    def __enter__(self) -> McpTestServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class StatusServer:
    """Answers every request, whatever the method and path, with one status code."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.port = 0
        self._served: Served | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def _app(self) -> Starlette:
        async def answer(request: Request) -> PlainTextResponse:
            return PlainTextResponse(f"status {self.status}", status_code=self.status)

        methods = ["GET", "POST", "DELETE", "PUT"]
        return Starlette(routes=[Route("/{path:path}", answer, methods=methods)])

    def __enter__(self) -> StatusServer:
        self._served = serve(self._app(), "fake-status", lifespan="on", loop="auto")
        self.port = self._served.port
        return self

    def __exit__(self, *exc: object) -> None:
        if self._served is not None:
            self._served.stop()
        self._served = None


class _Gate:
    """ASGI middleware: records each HTTP request's headers; answers POSTs with the server's
    `post_status` when it is set."""

    def __init__(self, app: Any, server: McpTestServer) -> None:
        self.app = app
        self.server = server

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
            self.server.seen_headers.append(headers)
            status = self.server.post_status
            if status is not None and scope["method"] == "POST":
                await PlainTextResponse("", status_code=status)(scope, receive, send)
                return
        await self.app(scope, receive, send)
