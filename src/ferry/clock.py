"""Time, in one place, so that semantics that depend on it can be tested with a fake clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

__all__ = ["Clock", "from_millis", "system_clock", "to_millis"]

Clock = Callable[[], int]
"""Returns the current time in integer milliseconds since the Unix epoch."""


def system_clock() -> int:
    return time.time_ns() // 1_000_000


def to_millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def from_millis(millis: int) -> datetime:
    return datetime.fromtimestamp(millis / 1000, UTC)
