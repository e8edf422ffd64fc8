"""Wake-ups for consumers in this process when a message may have become visible.

The queue store calls `notify` after a put (or an update that makes a message visible at
once); a functions host's queue trigger waits on `event` instead of sleeping through its
polling back-off. A waiter clears the event *before* it polls, so a put that lands between
its poll and its wait still wakes it. Only puts made in this process are seen; consumers in
other processes keep polling with back-off.
"""

from __future__ import annotations

import asyncio

__all__ = ["Arrivals"]


class Arrivals:
    def __init__(self) -> None:
        self._events: dict[tuple[str, str], asyncio.Event] = {}

    def event(self, account: str, queue: str) -> asyncio.Event:
        """The event set when `account/queue` gets a message; created on first use."""
        key = (account, queue)
        found = self._events.get(key)
        if found is None:
            found = self._events[key] = asyncio.Event()
        return found

    def notify(self, account: str, queue: str) -> None:
        """Wake waiters on `account/queue` (nobody waiting costs one dict lookup)."""
        found = self._events.get((account, queue))
        if found is not None:
            found.set()
