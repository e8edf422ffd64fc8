"""Server push for the live pages: a page's fragment sent as a server-sent event each time it
changes, so a browser sees a run move without reloading or asking.

Each open page costs one read of the store a second while it is open (the fragments are the
same queries the page was rendered with); nothing is sent while nothing changes but a comment
now and then, which is how a closed page is noticed. A stream ends when the session does (the
page then reloads onto the login), after `LIFETIME` (the browser reconnects at once, so a
long-open tab picks up a restarted server's new state), and when the server shuts down.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from starlette.responses import StreamingResponse

__all__ = ["LIFETIME", "TICK", "Stopping", "event", "stream"]

TICK = 1.0
"""Seconds between reads of what a page shows."""
KEEPALIVE = 15.0
"""Seconds of silence after which a comment is sent, to find out the page is gone."""
LIFETIME = 300.0
"""Seconds a stream lasts before the browser is asked to open a new one."""
RETRY_MS = 1000
"""How soon the browser reconnects after a stream ends."""

Stopping = Callable[[], bool]
"""Whether the server is shutting down (the platform's `ferry.serving.stopping`)."""
Render = Callable[[], Awaitable[str | None]]
"""The page's fragment as it stands, or None when the page may no longer be shown."""


def event(data: str, name: str | None = None) -> str:
    """One server-sent event: every line of `data` as a `data:` line (the browser joins them
    with newlines again)."""
    head = f"event: {name}\n" if name else ""
    return head + "".join(f"data: {line}\n" for line in data.split("\n")) + "\n"


async def _events(render: Render, stopping: Stopping, tick: float) -> AsyncIterator[str]:
    yield f"retry: {RETRY_MS}\n\n"
    shown: str | None = None
    started = quiet = time.monotonic()
    while not stopping() and time.monotonic() - started < LIFETIME:
        html = await render()
        if html is None:
            yield event("", "ended")
            return
        if html != shown:
            shown = html
            quiet = time.monotonic()
            yield event(html)
        elif time.monotonic() - quiet >= KEEPALIVE:
            quiet = time.monotonic()
            yield ": still here\n\n"
        await asyncio.sleep(tick)


def stream(
    render: Render, headers: dict[str, str], stopping: Stopping, tick: float = TICK
) -> StreamingResponse:
    """The response of a page's live stream (the connection's writes fail once the page is
    closed, which ends it)."""
    return StreamingResponse(
        _events(render, stopping, tick),
        media_type="text/event-stream",
        headers={**headers, "X-Accel-Buffering": "no"},
    )
