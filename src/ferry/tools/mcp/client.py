"""The `mcp` tool's client: lists a remote MCP server's tools and calls them.

Built on the official `mcp` SDK (`mcp.Client`, which drives a `ClientSession`) over its
Streamable HTTP and HTTP+SSE transports; no JSON-RPC is written here. What this module adds
is what a run engine needs around the SDK:

- **One connection per call.** `McpClient.list_tools` and `McpClient.call_tool` each open a
  connection, do their one thing and close it. That costs a handshake per call but holds no
  state between calls, so any process (or a restarted one) can carry on a run. For several
  requests in a row, `async with McpClient(...) as session:` holds one connection open.
- **The caller's timeout.** `timeout` bounds the whole operation: connecting, the MCP
  handshake and the request (and, for a held-open session, each request). It raises
  `McpTimeout`; nothing in here has a fixed limit of its own.
- **Errors the run can act on.** Connection failures, HTTP error statuses and protocol
  errors raise `McpUnavailable`, naming the server and the cause; never an `ExceptionGroup`
  from the SDK's task groups. A tool's own failure, or an error the server answers a
  `tools/call` with (an unknown tool, say), is a `McpResult(is_error=True)`: the model should
  read it and may try something else.
- **Transport detection.** `transport="auto"` tries Streamable HTTP first, unless the URL's
  path ends in `/sse`, in which case it tries SSE first. If the first attempt fails to
  connect because the server answered its opening request with HTTP 400, 404 or 405 (what
  a server that only speaks the other transport answers: see the MCP specification's
  backwards-compatibility section), the other transport is tried on the same URL. Any other
  failure is reported as it is, without a second attempt.

Headers (an `Authorization` header, say) go on every HTTP request to the server.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final, Literal, TypeVar
from urllib.parse import urlsplit, urlunsplit

import anyio
import httpx2
import mcp_types
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import CONNECTION_CLOSED, PARSE_ERROR, CallToolResult, Implementation
from pydantic import ValidationError

from ferry import __version__
from ferry.tools.errors import McpError, McpTimeout, McpUnavailable

__all__ = [
    "McpClient",
    "McpResult",
    "McpSession",
    "McpToolInfo",
    "TransportName",
]

log = logging.getLogger(__name__)

TransportName = Literal["auto", "streamable_http", "sse"]

_T = TypeVar("_T")

_FALLBACK_STATUSES: Final = frozenset({400, 404, 405})
"""Statuses on a transport's opening request that mean "try the other transport"."""
_CLOSE_GRACE: Final = 1.0
"""Seconds a connection may take to close (the Streamable HTTP session's DELETE) after the
operation: closing never holds a caller much past its timeout."""
_SSE_IDLE: Final = 24 * 3600.0
"""Read timeout of HTTP responses, event streams included. Every operation has its own
deadline, so a stream only needs to outlive a held-open session's quiet spells."""
_MAX_TOOL_PAGES: Final = 100
"""Most `tools/list` pages read: a server whose cursor never ends cannot hang a run."""
_EMPTY_SCHEMA: Final[dict[str, Any]] = {"type": "object", "properties": {}}
_CLIENT_INFO: Final = Implementation(name="ferry", version=__version__)


# -- errors ----------------------------------------------------------------------------------


# -- results ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class McpToolInfo:
    """One tool as the server lists it: what the model is offered."""

    name: str
    description: str
    input_schema: dict[str, Any]
    """JSON schema of the arguments, as the server gives it (an empty object schema if none)."""
    annotations: dict[str, Any] | None = None
    """The server's hints (`readOnlyHint`, `destructiveHint`, ...) in their wire spelling."""


@dataclass(frozen=True)
class McpResult:
    """A tool call's answer, as the model is shown it."""

    output: str
    """Text contents joined by newlines; structured content as JSON when there is no text;
    images, audio and binary resources described briefly ("[image/png, 1234 bytes]")."""
    is_error: bool
    """The server said `isError`, or answered the call with an error: the model should hear."""


# -- the client ------------------------------------------------------------------------------


class McpClient:
    """An MCP server at `url`. Cheap to create: make one per (server_url, headers) use.

    `list_tools` and `call_tool` open a new connection each (simple, and robust across
    processes); `async with McpClient(...) as session:` holds one connection for several.
    """

    def __init__(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        transport: TransportName = "auto",
    ) -> None:
        if transport not in ("auto", "streamable_http", "sse"):
            raise ValueError(f"transport must be auto, streamable_http or sse, not {transport!r}")
        if not timeout > 0:
            raise ValueError(f"timeout must be positive, not {timeout!r}")
        self.url = url
        self.headers: dict[str, str] = dict(headers or {})
        self.timeout = float(timeout)
        self.transport: TransportName = transport
        self._held_cm: AbstractAsyncContextManager[McpSession] | None = None

    @property
    def display_url(self) -> str:
        """The URL for messages: without credentials or a query string, which may hold keys."""
        parts = urlsplit(self.url)
        netloc = parts.hostname or ""
        if ":" in netloc:
            netloc = f"[{netloc}]"
        if parts.port is not None:
            netloc = f"{netloc}:{parts.port}"
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))

    async def list_tools(self) -> list[McpToolInfo]:
        """The server's tools, over a connection of their own."""
        deadline = anyio.current_time() + self.timeout
        async with self._connected(deadline) as session:
            return await session._list_tools(deadline)

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> McpResult:
        """Call tool `name` with `arguments`, over a connection of its own."""
        deadline = anyio.current_time() + self.timeout
        async with self._connected(deadline) as session:
            return await session._call_tool(name, arguments, deadline)

    async def __aenter__(self) -> McpSession:
        if self._held_cm is not None:
            raise RuntimeError("this McpClient already holds a session open")
        cm = self._connected(anyio.current_time() + self.timeout)
        session = await cm.__aenter__()
        self._held_cm = cm
        return session

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        cm, self._held_cm = self._held_cm, None
        if cm is not None:
            await cm.__aexit__(exc_type, exc, tb)

    @asynccontextmanager
    async def _connected(self, deadline: float) -> AsyncIterator[McpSession]:
        session = McpSession(self)
        await session._open(deadline)
        try:
            yield session
        except BaseException as exc:
            await session._close(exc)
            raise
        await session._close(None)


class McpSession:
    """One open connection to an MCP server, from `async with McpClient(...) as session`.

    Each request is bounded by the client's `timeout`; make one request at a time. After a
    failure the connection may be unusable: leave the `async with` and open another (a
    timed-out request leaves it usable).
    """

    def __init__(self, client: McpClient) -> None:
        self._owner = client
        self._wire = _Wire()
        self._stack = AsyncExitStack()
        self._scope = anyio.CancelScope()
        self._client: Client | None = None
        self.transport: Literal["streamable_http", "sse"] | None = None
        """The transport the connection uses (what "auto" chose)."""

    async def list_tools(self) -> list[McpToolInfo]:
        """The server's tools."""
        return await self._list_tools(anyio.current_time() + self._owner.timeout)

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> McpResult:
        """Call tool `name` with `arguments`."""
        return await self._call_tool(name, arguments, anyio.current_time() + self._owner.timeout)

    # -- requests ----------------------------------------------------------------------------

    async def _list_tools(self, deadline: float) -> list[McpToolInfo]:
        async def pages(client: Client) -> list[mcp_types.Tool]:
            tools: list[mcp_types.Tool] = []
            cursor: str | None = None
            for _ in range(_MAX_TOOL_PAGES):
                page = await client.list_tools(cursor=cursor)
                tools.extend(page.tools)
                cursor = page.next_cursor
                if not cursor:
                    break
            return tools

        return [_tool_info(tool) for tool in await self._bounded(deadline, "tools/list", pages)]

    async def _call_tool(self, name: str, arguments: dict[str, Any], deadline: float) -> McpResult:
        async def call(client: Client) -> McpResult:
            try:
                result = await client.call_tool(name, arguments)
            except MCPError as exc:
                if self._wire.failure is not None or exc.code in (CONNECTION_CLOSED, PARSE_ERROR):
                    raise  # the transport's stand-in for a broken connection, not the server's word
                return McpResult(output=exc.message, is_error=True)
            return McpResult(output=_render(result), is_error=result.is_error)

        return await self._bounded(deadline, f"tools/call {name!r}", call)

    async def _bounded(
        self, deadline: float, what: str, request: Callable[[Client], Awaitable[_T]]
    ) -> _T:
        """Run `request` by `deadline`, with the SDK's failures turned into `McpError`s."""
        if self._client is None:
            raise RuntimeError("the MCP session is not open")
        self._wire.failure = None
        with anyio.CancelScope(deadline=deadline) as scope:
            self._wire.abort = scope
            try:
                return await request(self._client)
            except BaseException as exc:
                error = self._translate(exc, scope, what)
                if error is None:
                    raise
                raise error from exc
            finally:
                self._wire.abort = None
        raise self._after_cancel(what)

    # -- connecting --------------------------------------------------------------------------

    async def _open(self, deadline: float) -> None:
        """Connect and shake hands by `deadline`. The connection's scope stays open (with no
        deadline) until `_close`, since the SDK's task groups live inside it."""
        scope = self._stack.enter_context(anyio.CancelScope(deadline=deadline))
        self._scope = scope
        self._wire.abort = scope
        try:
            self._client = await self._connect()
        except BaseException as exc:
            error = self._translate(exc, scope, "the connection")
            if await self._stack.__aexit__(type(exc), exc, exc.__traceback__):
                error = error or self._after_cancel("the connection")  # our deadline, swallowed
            if error is None:
                raise
            raise error from exc
        finally:
            self._wire.abort = None
        self._wire.failure = None
        scope.deadline = math.inf

    async def _close(self, exc: BaseException | None) -> None:
        """Close the connection, within a short grace. A failure while closing is logged, not
        raised: the operation's result (or its own error) is what the caller needs."""
        self._client = None
        self._scope.deadline = min(self._scope.deadline, anyio.current_time() + _CLOSE_GRACE)
        try:
            await self._stack.__aexit__(
                type(exc) if exc is not None else None,
                exc,
                exc.__traceback__ if exc is not None else None,
            )
        except Exception:
            log.debug(
                "closing the MCP connection to %s failed", self._owner.display_url, exc_info=True
            )

    async def _connect(self) -> Client:
        """Connect over the transports of `_order` in turn: the next is tried only when the
        server answered the opening request with a status in `_FALLBACK_STATUSES`."""
        first: McpError | None = None
        order = self._order()
        for index, kind in enumerate(order):
            self._wire.kind = kind
            self._wire.failure = None
            try:
                async with AsyncExitStack() as attempt:
                    client = await self._enter(attempt, kind)
                    self._stack.push_async_exit(attempt.pop_all())
                    self.transport = kind
                    return client
            except Exception as exc:
                failure = self._wire.failure
                if (
                    first is None
                    and index + 1 < len(order)
                    and failure is not None
                    and failure.status in _FALLBACK_STATUSES
                ):
                    first = self._translate(exc, None, "the connection")
                    log.debug("%s: %s; trying %s", self._owner.display_url, first, order[index + 1])
                    continue
                if first is None:
                    raise
                second = self._translate(exc, None, "the connection") or exc
                raise McpUnavailable(f"{first}; over {_LABEL[kind]}: {second}") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _order(self) -> list[Literal["streamable_http", "sse"]]:
        owner = self._owner
        if owner.transport != "auto":
            return [owner.transport]
        if urlsplit(owner.url).path.rstrip("/").endswith("/sse"):
            return ["sse", "streamable_http"]
        return ["streamable_http", "sse"]

    async def _enter(
        self, stack: AsyncExitStack, kind: Literal["streamable_http", "sse"]
    ) -> Client:
        owner = self._owner
        if kind == "streamable_http":
            http = await stack.enter_async_context(
                self._http_client(
                    headers=owner.headers,
                    timeout=httpx2.Timeout(owner.timeout, read=_SSE_IDLE),
                )
            )
            transport = streamable_http_client(owner.url, http_client=http)
        else:
            transport = sse_client(
                owner.url,
                headers=dict(owner.headers),
                timeout=owner.timeout,
                sse_read_timeout=_SSE_IDLE,
                httpx_client_factory=self._http_client,
            )
        client = Client(transport, cache=None, client_info=_CLIENT_INFO)
        return await stack.enter_async_context(client)

    def _http_client(
        self,
        headers: dict[str, str] | None = None,
        timeout: httpx2.Timeout | None = None,
        auth: httpx2.Auth | None = None,
    ) -> httpx2.AsyncClient:
        """The HTTP client of both transports: the SDK's settings, plus `_Wire`'s hook that
        records error statuses (the SDK keeps only a JSON-RPC stand-in for them)."""
        return httpx2.AsyncClient(
            headers=headers,
            timeout=timeout if timeout is not None else httpx2.Timeout(self._owner.timeout),
            auth=auth,
            verify=_tls_context(),
            event_hooks={"response": [self._wire.on_response]},
        )

    # -- errors ------------------------------------------------------------------------------

    def _after_cancel(self, what: str) -> McpError:
        """The error for a cancellation of ours: a failed SSE post, or the deadline."""
        if self._wire.failure is not None:
            return self._http_error(self._wire.failure)
        return McpTimeout(
            f"MCP server {self._owner.display_url} did not complete {what} "
            f"within {self._owner.timeout:g} s"
        )

    def _http_error(self, failure: _HttpFailure) -> McpUnavailable:
        return McpUnavailable(
            f"MCP server {self._owner.display_url} answered HTTP {failure.status}"
            f"{' ' + failure.reason if failure.reason else ''} to {failure.method} "
            f"({_LABEL[failure.kind]})"
        )

    def _translate(
        self, exc: BaseException, scope: anyio.CancelScope | None, what: str
    ) -> McpError | None:
        """The `McpError` for what the SDK raised, or None to let it through unchanged (the
        caller's own cancellation, an interrupt)."""
        if isinstance(exc, McpError):
            return exc
        if scope is not None and scope.cancel_called:
            return self._after_cancel(what)
        leaves = [leaf for leaf in _leaves(exc) if isinstance(leaf, Exception)]
        if not leaves:
            return None
        own = next((leaf for leaf in leaves if isinstance(leaf, McpError)), None)
        if own is not None:
            return own
        if self._wire.failure is not None:
            return self._http_error(self._wire.failure)
        return _describe(leaves, self._owner.display_url, what, self._owner.timeout)


_LABEL: Final = {"streamable_http": "Streamable HTTP", "sse": "SSE"}


@dataclass(frozen=True)
class _HttpFailure:
    method: str
    status: int
    reason: str
    kind: Literal["streamable_http", "sse"]


class _Wire:
    """What the HTTP layer saw of one connection, for the errors the SDK cannot tell."""

    def __init__(self) -> None:
        self.kind: Literal["streamable_http", "sse"] = "streamable_http"
        self.failure: _HttpFailure | None = None
        """The last error status answered to a message (POST, or any request over SSE)."""
        self.abort: anyio.CancelScope | None = None
        """Cancelled when an SSE post fails: the SDK only logs that, and the request would
        otherwise wait out the whole timeout."""

    async def on_response(self, response: httpx2.Response) -> None:
        if response.status_code < 400:
            return
        method = response.request.method
        if self.kind == "streamable_http" and method != "POST":
            return  # the optional GET stream and the closing DELETE may be refused
        self.failure = _HttpFailure(method, response.status_code, response.reason_phrase, self.kind)
        if self.kind == "sse" and method == "POST" and self.abort is not None:
            self.abort.cancel()


# -- helpers ---------------------------------------------------------------------------------


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """httpx's default verifying context, made once: building it (loading the CA bundle)
    costs ~30 ms, which a connection per call would otherwise pay every time."""
    return httpx2.create_ssl_context()


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


_RANKED: Final = (
    httpx2.HTTPStatusError,
    httpx2.TimeoutException,
    httpx2.ConnectError,
    MCPError,
    ValidationError,
)
"""The failures worth naming, most telling first, when a task group raised several."""


def _describe(leaves: list[Exception], url: str, what: str, timeout: float) -> McpError:
    """The `McpError` for the SDK's (or httpx's) failures `leaves`."""
    leaf = min(
        leaves, key=lambda e: next((i for i, t in enumerate(_RANKED) if isinstance(e, t)), 99)
    )
    if isinstance(leaf, httpx2.HTTPStatusError):
        response = leaf.response
        return McpUnavailable(
            f"MCP server {url} answered HTTP {response.status_code} {response.reason_phrase} "
            f"to {leaf.request.method}"
        )
    if isinstance(leaf, httpx2.TimeoutException):
        return McpTimeout(f"MCP server {url} did not complete {what} within {timeout:g} s")
    if isinstance(leaf, httpx2.ConnectError):
        return McpUnavailable(f"cannot connect to MCP server {url}: {_connect_cause(leaf)}")
    if isinstance(leaf, MCPError):
        return McpUnavailable(
            f"MCP server {url} refused {what}: {leaf.message} (JSON-RPC error {leaf.code})"
        )
    if isinstance(leaf, ValidationError):
        detail = f"a response that is not valid MCP ({leaf.error_count()} errors)"
        return McpUnavailable(f"MCP server {url} sent {detail} to {what}")
    return McpUnavailable(f"MCP server {url} failed {what}: {type(leaf).__name__}: {leaf}")


def _connect_cause(exc: BaseException) -> str:
    """ "connection refused" and the like, from the OS error under httpx's message."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ConnectionRefusedError):
            return "connection refused"
        if isinstance(seen, OSError) and seen.strerror:
            return seen.strerror.lower()
        seen = seen.__cause__ or seen.__context__
    return str(exc) or type(exc).__name__


def _tool_info(tool: mcp_types.Tool) -> McpToolInfo:
    annotations = (
        tool.annotations.model_dump(by_alias=True, exclude_none=True, mode="json")
        if tool.annotations is not None
        else None
    )
    return McpToolInfo(
        name=tool.name,
        description=tool.description or "",
        input_schema=dict(tool.input_schema) if tool.input_schema else dict(_EMPTY_SCHEMA),
        annotations=annotations,
    )


def _render(result: CallToolResult) -> str:
    parts = [_render_block(block) for block in result.content]
    if not parts and result.structured_content is not None:
        parts.append(json.dumps(result.structured_content, ensure_ascii=False))
    return "\n".join(parts)


def _render_block(block: mcp_types.ContentBlock) -> str:
    if isinstance(block, mcp_types.TextContent):
        return block.text
    if isinstance(block, mcp_types.ImageContent | mcp_types.AudioContent):
        return f"[{block.mime_type}, {_decoded_size(block.data)} bytes]"
    if isinstance(block, mcp_types.EmbeddedResource):
        resource = block.resource
        if isinstance(resource, mcp_types.TextResourceContents):
            return resource.text
        mime = resource.mime_type or "application/octet-stream"
        return f"[resource {resource.uri}, {mime}, {_decoded_size(resource.blob)} bytes]"
    return f"[resource link {block.name}: {block.uri}]"


def _decoded_size(data: str) -> int:
    """Bytes that base64 `data` decodes to, without decoding it."""
    data = data.strip()
    padding = len(data) - len(data.rstrip("="))
    return max(len(data) * 3 // 4 - padding, 0)
