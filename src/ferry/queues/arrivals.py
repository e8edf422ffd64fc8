"""Wake-ups for consumers when a message may have become visible.

The queue store calls `notify` after a put (or an update that makes a message visible at
once); a functions host's queue trigger waits on `event` instead of sleeping through its
polling back-off. A waiter clears the event *before* it polls, so a put that lands between
its poll and its wait still wakes it. Puts made by other processes sharing PostgreSQL arrive
as notices (`ferry.store.signals`) once someone here waits; without them, consumers fall back
to polling with back-off.
"""

from __future__ import annotations

import asyncio

from ferry.store.signals import QUEUES, Signals

__all__ = ["Arrivals"]


class Arrivals:
    def __init__(self) -> None:
        self._events: dict[tuple[str, str], asyncio.Event] = {}
        self._signals: Signals | None = None
        self._listening = False

    def hear_from(self, signals: Signals) -> None:
        """Also wake waiters for messages other processes put (listening starts with the
        first waiter, on its event loop)."""
        self._signals = signals

    def event(self, account: str, queue: str) -> asyncio.Event:
        """The event set when `account/queue` gets a message; created on first use."""
        if self._signals is not None and not self._listening:
            self._listening = True
            self._signals.listen(QUEUES, self._heard)
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

    def _heard(self, payload: str) -> None:
        account, _, queue = payload.partition("/")
        self.notify(account, queue)
