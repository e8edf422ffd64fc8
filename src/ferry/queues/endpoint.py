"""The queue service a trigger or output binding talks to, behind one small interface.

`endpoints.local` is Ferry's own store in this process (no HTTP, and a put wakes the trigger
at once); `endpoints.remote` is any service speaking the Azure Queue protocol (Ferry
elsewhere, Azurite, Azure Storage), polled as the real host polls it.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime

__all__ = ["DEFAULT_TTL", "QueueEndpoint", "Received"]


@dataclass(frozen=True)
class Received:
    """A message as a trigger received it (text exactly as stored on the queue)."""

    id: str
    pop_receipt: str
    dequeue_count: int
    inserted_at: datetime
    expires_at: datetime
    next_visible_at: datetime
    text: str


DEFAULT_TTL = 7 * 24 * 3600
"""Seconds a message Ferry puts lives, as the queue service's default."""


class QueueEndpoint(ABC):
    """One storage account's queues. Its operations raise only `QueueEndpointError`s
    (`ferry.queues.errors`), whatever the service behind it, so callers that log and retry
    catch that family rather than Exception."""

    name: str
    """How logs and `ferry start` describe it."""

    @abstractmethod
    async def receive(self, queue: str, count: int, visibility_timeout: int) -> list[Received]:
        """Up to `count` messages, hidden for `visibility_timeout` s; [] if the queue is
        empty or does not exist yet."""

    @abstractmethod
    async def delete(self, queue: str, message: Received) -> None:
        """Delete a message; one already gone is not an error."""

    @abstractmethod
    async def hide(self, queue: str, message: Received, seconds: int) -> Received | None:
        """Make the message visible again after `seconds` (0: now); returns it with its new
        pop receipt, or None if it is gone."""

    @abstractmethod
    async def put(self, queue: str, text: str) -> None:
        """Add a message, creating the queue if it does not exist."""

    @abstractmethod
    async def ensure(self, queue: str) -> None:
        """Create the queue unless it exists (one that exists, with any metadata, is kept)."""

    def arrivals(self, queue: str) -> asyncio.Event | None:
        """An event set when `queue` gets a message, if this endpoint can tell (else the
        trigger polls)."""
        return None

    async def close(self) -> None:
        return None
