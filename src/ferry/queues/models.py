"""The queue service's records, as the store returns them (times in epoch milliseconds)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ferry.types import Metadata

__all__ = ["AccessPolicy", "Message", "QueueInfo", "QueueListing"]


@dataclass(frozen=True, slots=True)
class Message:
    message_id: str
    inserted_at: int
    expires_at: int
    visible_at: int
    dequeue_count: int
    pop_receipt: str | None
    text: str


@dataclass(frozen=True, slots=True)
class QueueInfo:
    name: str
    metadata: Metadata = field(default_factory=dict)
    approximate_message_count: int | None = None


@dataclass(frozen=True, slots=True)
class QueueListing:
    queues: list[QueueInfo]
    next_marker: str | None


@dataclass(frozen=True, slots=True)
class AccessPolicy:
    """A stored access policy (signed identifier) of a queue; any field may be left open."""

    id: str
    start: str | None = None
    expiry: str | None = None
    permission: str | None = None
