"""An ASGI app served by uvicorn on a free 127.0.0.1 port, on a thread of its own: how every
fake server of the tests runs, so sync and async tests can use them alike."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any, Self

import uvicorn

__all__ = ["Served", "ThreadServer", "serve"]


class Served:
    def __init__(self, server: uvicorn.Server, thread: threading.Thread, port: int) -> None:
        self.server = server
        self.thread = thread
        self.port = port

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def serve(app: Any, name: str, *, lifespan: str = "off", loop: str = "asyncio") -> Served:
    """Start serving `app`; returns once it accepts connections. `loop="auto"` takes uvloop
    where installed (the asyncio loop adds some 40 ms to each response on a thread here)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    config = uvicorn.Config(
        app,
        log_level="warning",
        lifespan=lifespan,
        http="h11",
        ws="none",
        loop=loop,
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the {name} server did not start")
        time.sleep(0.005)
    return Served(server, thread, port)


class ThreadServer:
    """A fake server's life: `with Fake() as fake:` serves `fake._app()` on `fake.port`."""

    name = "fake"
    port = 0
    _served: Served | None = None

    def _app(self) -> Any:
        raise NotImplementedError

    def start(self) -> Self:
        self._served = serve(self._app(), self.name)
        self.port = self._served.port
        return self

    def stop(self) -> None:
        if self._served is not None:
            self._served.stop()
        self._served = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
