"""Listening sockets and uvicorn servers, shared by every `ferry serve …` command."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import socket
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from ferry.errors import BindError
from ferry.identity.tls import TlsFiles
from ferry.queues.wire import KEEP_CASE

__all__ = ["Listener", "bind", "run", "run_until_stopped", "stopping", "tune_gc"]


@dataclass
class Listener:
    app: ASGIApp
    sock: socket.socket
    tls: TlsFiles | None = None
    """Serve https with this certificate (else plain http)."""

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def url(self, host: str) -> str:
        scheme = "https" if self.tls else "http"
        shown = f"[{host}]" if ":" in host else host
        return f"{scheme}://{shown}:{self.port}"


def bind(host: str, port: int) -> socket.socket:
    """A listening socket; port 0 picks a free one. Connections queue in its backlog until
    the server starts accepting, so its address can be published at once."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise BindError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(2048)
    sock.setblocking(False)
    return sock


_META = b"x-ms-meta-"


def _http_protocol() -> type[asyncio.Protocol] | str:
    """uvicorn's httptools protocol, except that user metadata names keep their case.

    ASGI servers lowercase header names, but storage metadata names are the user's own and
    List Queues hands them back as they were sent. (uvicorn also lowercases the names of
    response headers, so Get Queue Metadata answers `x-ms-meta-camelcase`.) Falls back to
    uvicorn's default where httptools is not installed.
    """
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # pragma: no cover - httptools is part of uvicorn[standard]
        return "auto"

    class MetadataCasePreserving(HttpToolsProtocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(_CaseKeeping(transport))  # type: ignore[arg-type]

        def on_header(self, name: bytes, value: bytes) -> None:
            if name[: len(_META)].lower() == _META:
                self.headers.append((_META + name[len(_META) :], value))
            else:
                super().on_header(name, value)

    return MetadataCasePreserving


_KEEP_CASE = b"\r\n" + KEEP_CASE.encode() + b": "


def restore_case(head: bytes) -> bytes:
    """A response head as uvicorn wrote it (every header name lowercased), with the names
    its `KEEP_CASE` header lists put back in their case, and that header removed."""
    start = head.find(_KEEP_CASE)
    if start < 0:
        return head
    end = head.find(b"\r\n", start + 2)
    end = len(head) if end < 0 else end
    names = head[start + len(_KEEP_CASE) : end].split(b",")
    head = head[:start] + head[end:]
    for name in names:
        head = head.replace(b"\r\n" + name.lower() + b": ", b"\r\n" + name + b": ", 1)
    return head


class _CaseKeeping:
    """The connection's transport, except that a response head naming headers to keep in
    their case is written with them in it (`restore_case`). Only a write that starts a
    response and carries the marker is touched."""

    def __init__(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport

    def write(self, data: bytes) -> None:
        if data[:5] == b"HTTP/" and _KEEP_CASE in data:
            head, blank, rest = data.partition(b"\r\n\r\n")
            data = restore_case(head) + blank + rest
        self._transport.write(data)  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signals to `run`, which stops all servers together."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


_stopping = False


def stopping() -> bool:
    """Whether this process's servers are shutting down: a response that streams for as long
    as its client watches (the dashboard's live pages) ends when this turns True, rather than
    hold the shutdown until its grace period runs out."""
    return _stopping


async def run(listeners: Sequence[Listener], stop: asyncio.Event | None = None) -> None:
    """Serve every listener until SIGINT/SIGTERM (or `stop` is set), then shut all of them
    down gracefully: requests in flight finish, new connections are refused."""
    global _stopping
    _stopping = False
    servers = [
        _Server(
            uvicorn.Config(
                listener.app,
                http=_http_protocol(),
                server_header=False,
                date_header=False,
                log_level="warning",
                access_log=False,
                lifespan="on",
                timeout_graceful_shutdown=10,
                ssl_certfile=listener.tls.certificate if listener.tls else None,
                ssl_keyfile=listener.tls.key if listener.tls else None,
            )
        )
        for listener in listeners
    ]
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)

    async def stopper() -> None:
        global _stopping
        await stop.wait()
        _stopping = True
        for server in servers:
            server.should_exit = True

    watcher = asyncio.create_task(stopper())
    try:
        await asyncio.gather(
            *(
                server.serve(sockets=[listener.sock])
                for server, listener in zip(servers, listeners, strict=True)
            )
        )
    finally:
        watcher.cancel()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)


def tune_gc() -> None:
    """Collect cycles less often, and never look again at what start-up made.

    A serving process holds many long-lived objects (a thousand runs' state, connections,
    compiled statements); with the default thresholds (700, 10, 10) the collector walks
    them over and over, and under load that was the largest single cost on the event
    loop (`python -m bench.agents`: Ferry's CPU per run 10.1-10.6 ms with the defaults,
    8.3-8.8 ms with these). Cycles are still collected, only in larger batches."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


def run_until_stopped(listeners: Sequence[Listener]) -> None:
    """`run` on a fresh event loop (uvloop where it is installed)."""
    factory: Callable[[], asyncio.AbstractEventLoop] = asyncio.new_event_loop
    try:
        import uvloop

        factory = uvloop.new_event_loop
    except ImportError:  # pragma: no cover - uvloop is absent on some platforms
        pass
    tune_gc()
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(run(listeners))
