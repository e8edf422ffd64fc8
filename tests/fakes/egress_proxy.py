"""An HTTP proxy that lets nothing out: it records where each request wanted to go and
refuses it (403). Given to a Ferry process as HTTPS_PROXY/HTTP_PROXY, it shows that a tool
call to an internet API (an official sample's OpenAPI spec names wttr.in) was made, while
no traffic leaves the loopback interface::

    with EgressProxy() as proxy:
        ... env={"HTTPS_PROXY": proxy.url, "NO_PROXY": "127.0.0.1,localhost"} ...
        assert "wttr.in:443" in proxy.targets
"""

from __future__ import annotations

import socketserver
import threading

__all__ = ["EgressProxy"]


class EgressProxy:
    def __init__(self) -> None:
        self.targets: list[str] = []
        """`host:port` (CONNECT) or the absolute URL of every request, in order."""
        proxy = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                line = self.rfile.readline(8192).decode("latin-1").split()
                while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
                    pass
                if len(line) >= 2:
                    proxy.targets.append(line[1])
                self.wfile.write(
                    b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                )

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> EgressProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
