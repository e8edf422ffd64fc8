"""The load generator: h2load (Debian's nghttp2-client) over HTTP/1.1, 2 threads and 16
connections, a SAS in the URL. It runs an exact number of requests (or a fixed time) and times
exactly those, and it is not the bottleneck: it sends several times the requests any server
here can answer."""

from __future__ import annotations

import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

THREADS = 2
CONNECTIONS = 16
MESSAGES_PER_GET = 32
# A 64-character base64 text, as an SDK with a base64 message policy would send.
BODY = (
    b"<QueueMessage><MessageText>"
    b"eyJsb2NhdGlvbiI6ICJTZWF0dGxlLCBXQSIsICJDb3JyZWxhdGlvbklkIjogIjEifQ=="
    b"</MessageText></QueueMessage>"
)
_HEADERS = ["-H", "x-ms-version: 2026-10-06"]


@dataclass
class LoadResult:
    requests: int
    seconds: float
    mean_ms: float
    """Mean time per request as h2load saw it (connection queueing included)."""

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def _seconds(value: str, unit: str) -> float:
    return float(value) * {"us": 1e-6, "ms": 1e-3, "s": 1.0}[unit]


def _run(url: str, extra: list[str], connections: int = CONNECTIONS) -> LoadResult:
    command = ["h2load", "--h1", f"-t{THREADS}", f"-c{connections}", *_HEADERS, *extra, url]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    finished = re.search(r"finished in ([\d.]+)(us|ms|s),", output)
    codes = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", output)
    timing = re.search(r"time for request:\s+\S+\s+\S+\s+([\d.]+)(us|ms|s)", output)
    if not (finished and codes and timing):
        raise RuntimeError(f"unexpected h2load output:\n{output}")
    ok, *failed = (int(n) for n in codes.groups())
    if any(failed) or ok == 0:
        raise RuntimeError(f"h2load saw failures against {url}:\n{output}")
    return LoadResult(
        requests=ok,
        seconds=_seconds(*finished.groups()),
        mean_ms=_seconds(*timing.groups()) * 1000,
    )


def _body_file() -> Path:
    path = Path(tempfile.gettempdir()) / "ferry-bench-message.xml"
    if not path.exists() or path.read_bytes() != BODY:
        path.write_bytes(BODY)
    return path


def put_for(queue_url: str, sas: str, seconds: int) -> LoadResult:
    """Puts for `seconds` (after a one-second warm-up)."""
    extra = [
        "-D",
        str(seconds),
        "--warm-up-time=1",
        "-d",
        str(_body_file()),
        "-H",
        "Content-Type: application/xml",
    ]
    return _run(f"{queue_url}/messages?{sas}", extra)


def put_count(queue_url: str, sas: str, count: int) -> LoadResult:
    extra = ["-n", str(count), "-d", str(_body_file()), "-H", "Content-Type: application/xml"]
    return _run(f"{queue_url}/messages?{sas}", extra)


def receive(queue_url: str, sas: str, requests: int) -> LoadResult:
    """`requests` receives of 32 messages each, hidden for an hour. The caller makes sure at
    least 32 × requests + 32 messages are visible, so that every request gets a full 32."""
    url = f"{queue_url}/messages?numofmessages={MESSAGES_PER_GET}&visibilitytimeout=3600&{sas}"
    return _run(url, ["-n", str(requests)])
