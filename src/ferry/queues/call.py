"""One authenticated request, as the operation handlers see it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.responses import Response

from ferry.clock import Clock
from ferry.queues.store import QueueStore

__all__ = ["Call", "Handler"]


@dataclass(slots=True)
class Call:
    store: QueueStore
    clock: Clock
    method: str
    account: str
    queue: str | None
    message_id: str | None
    query: dict[str, str]
    """Decoded query parameters; the last value wins when one is repeated."""
    headers: Headers
    body: bytes
    endpoint: str
    """The account's service URL as the client addressed it, ending with `/`."""
    version: str
    """The protocol version the request is served by: `x-ms-version`, else a SAS's `sv`,
    else the newest (some limits differ between versions)."""

    @property
    def queue_name(self) -> str:
        assert self.queue is not None, "a queue operation was routed without a queue"
        return self.queue


Handler = Callable[[Call], Awaitable[Response]]
