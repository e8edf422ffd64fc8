"""In-process news of runs, for the requests that stream them.

The database is the truth: a streaming request rebuilds its events from what is stored, so it
works whichever process (or machine, sharing PostgreSQL) works the run. The bus only makes it
prompt: the engine says when it has stored something for a run (so a watcher looks now rather
than at its next poll), with what it stored, and passes on the model's text as it is
generated, which is stored only once the answer is whole.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ferry import jsontext
from ferry.types import Json

__all__ = [
    "POLLS",
    "SAFETY_POLLS",
    "Changed",
    "Delta",
    "News",
    "RunBus",
    "Snapshot",
    "drain",
    "polls_for",
    "watch_run",
]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A run as the engine stored it: copies no one changes."""

    status: str
    run: Json
    steps: tuple[Json, ...] = ()
    """Steps written by the commit."""
    items: tuple[Json, ...] = ()
    """Items written by the commit."""
    outputs: tuple[tuple[str, str], ...] = ()
    """(call id, output) of every output the run has."""
    calls: tuple[Any, ...] = ()
    """The run's tool calls (`ferry.runs.calls.Call`), as they stand."""


@dataclass(frozen=True, slots=True)
class Changed:
    """Something about the run was stored. With `snapshot`, what this process stored, so a
    watcher need not read it back; without, read the store. `news` are the stream news the
    commit logged (numbered), for watchers of v2 streams."""

    sequence: int = 0
    snapshot: Snapshot | None = None
    news: tuple[Json, ...] = ()


@dataclass(frozen=True, slots=True)
class Delta:
    """A piece of the model's answer, before the message holding it is stored.

    `step` and `item` are what the answer will be stored as (status in_progress), so a watcher
    can announce them before the first piece; `news` is the numbered news for v2 streams."""

    step: Json
    item: Json
    text: str
    news: tuple[Json, ...] = ()


News = Changed | Delta

POLLS = (0.05, 1.0)
"""Seconds a stream without a bus waits between reads of the store: doubling from the first
to the second while nothing changes."""
SAFETY_POLLS = (5.0, 30.0)
"""The same with a bus, whose news (this process's engine, and on PostgreSQL every other
process's notices) tells of each change: such a read only catches a lost notice, so it waits
long, lest a thousand streams waiting on slow tools read the store every second (which made
each read wait a second behind the others)."""

_MAX_BACKLOG = 10_000
"""Pieces a watcher may fall behind by; past that it gets `Changed` and reads the store."""


class RunBus:
    def __init__(self) -> None:
        self._watchers: dict[str, set[_Watcher]] = {}
        self.sequence = 0
        """Counts the changes published with their contents, so a watcher that reads the
        store can tell which of them its read already holds."""

    def watching(self, run_id: str) -> bool:
        return bool(self._watchers.get(run_id))

    @contextlib.contextmanager
    def watch(self, run_id: str) -> Iterator[asyncio.Queue[News]]:
        watcher = _Watcher(asyncio.Queue(_MAX_BACKLOG))
        self._watchers.setdefault(run_id, set()).add(watcher)
        try:
            yield watcher.queue
        finally:
            watchers = self._watchers.get(run_id)
            if watchers is not None:
                watchers.discard(watcher)
                if not watchers:
                    del self._watchers[run_id]

    def changed(
        self, run_id: str, snapshot: Snapshot | None = None, news: Sequence[Json] = ()
    ) -> None:
        watchers = self._watchers.get(run_id)
        if not watchers:
            return
        told = Changed()
        if snapshot is not None:
            self.sequence += 1
            told = Changed(self.sequence, _copied(snapshot), tuple(jsontext.copy(list(news))))
        for watcher in watchers:
            if not watcher.queue.full():
                watcher.queue.put_nowait(told)

    def delta(
        self, run_id: str, step: Json, item: Json, text: str, news: Sequence[Json] = ()
    ) -> None:
        for watcher in self._watchers.get(run_id, ()):
            if watcher.lagging:
                continue
            if watcher.queue.qsize() < _MAX_BACKLOG - 1:
                watcher.queue.put_nowait(Delta(step, item, text, tuple(news)))
            else:
                # A watcher that cannot keep up gets no more pieces (a gap would garble the
                # text); it sends the rest of the answer from the stored message instead.
                watcher.lagging = True
                watcher.queue.put_nowait(Changed())


def _copied(snapshot: Snapshot) -> Snapshot:
    """A copy no later change of the engine's state reaches (its calls are flat records)."""
    return Snapshot(
        snapshot.status,
        jsontext.copy(snapshot.run),
        tuple(jsontext.copy(list(snapshot.steps))),
        tuple(jsontext.copy(list(snapshot.items))),
        snapshot.outputs,
        tuple(copy.copy(call) for call in snapshot.calls),
    )


@dataclass(eq=False, slots=True)
class _Watcher:
    queue: asyncio.Queue[News]
    lagging: bool = False


@contextlib.contextmanager
def watch_run(bus: RunBus | None, run_id: str) -> Iterator[asyncio.Queue[News]]:
    """The run's news from `bus`; without a bus, a queue nothing is ever put on (the
    watcher polls the store)."""
    if bus is None:
        yield asyncio.Queue()
        return
    with bus.watch(run_id) as queue:
        yield queue


def polls_for(bus: RunBus | None) -> tuple[float, float]:
    """(first, longest) wait of a stream between reads of the store."""
    return POLLS if bus is None else SAFETY_POLLS


def drain(first: News, queue: asyncio.Queue[News]) -> list[News]:
    """`first` and whatever else is waiting, without waiting."""
    told = [first]
    while True:
        try:
            told.append(queue.get_nowait())
        except asyncio.QueueEmpty:
            return told
