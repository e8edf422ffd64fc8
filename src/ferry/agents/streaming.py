"""Server-sent events for a run, as a client asking for `"stream": true` reads them.

A stream is rebuilt from what is stored: each time the run changes, the watcher reads the
run, its steps and the messages they created, and sends the events that take the client from
what it has seen to what is stored now (created, in_progress, completed, …, in the order the
service sends them). So a stream is correct whichever process works the run. The bus makes it
prompt in this process, and carries the model's text piece by piece while it is generated.

The stream ends, as the service's does, when the run needs tool outputs (`requires_action`)
or ends; a client answering tool outputs with `stream: true` gets a new stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from ferry.agents.errors import NotFound
from ferry.agents.store import TERMINAL, AgentStore, fetch, steps_of
from ferry.runs.bus import Changed, Delta, News, RunBus
from ferry.store.schema import thread_messages

__all__ = ["RunStream", "sse"]

log = logging.getLogger(__name__)

Json = dict[str, Any]
Event = tuple[str, Any]

MIN_POLL = 0.05
MAX_POLL = 1.0
"""Seconds between reads when no news comes: the wait doubles from the first to the second
while nothing changes. With a bus (the engine here, and on PostgreSQL every other process's
notices, tell of changes), reads wait the longest from the start: they only catch what a
lost notice, or a worker sharing SQLite from another process, failed to tell."""

_OPEN = ("queued", "in_progress", "cancelling")
"""Run statuses announced before the steps of a read; the others close a read, and the stream."""


def sse(name: str, data: Any) -> bytes:
    """One event: a single `data:` line, since the SDKs read only one."""
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return f"event: {name}\ndata: {payload}\n\n".encode()


DONE = sse("done", "[DONE]")


@dataclass
class _Snapshot:
    run: Json
    steps: list[Json]
    messages: dict[str, Json]


def _message_id(step: Json) -> str | None:
    if step["type"] != "message_creation":
        return None
    return str(step["step_details"]["message_creation"]["message_id"])


def _text(message: Json) -> str:
    return "".join(
        part["text"]["value"] for part in message.get("content") or [] if part["type"] == "text"
    )


def _as_new(body: Json, **changes: Any) -> Json:
    """The object as it looked when it was created."""
    fresh = copy.deepcopy(body)
    fresh.update(status="in_progress", completed_at=None, **changes)
    return fresh


class RunStream:
    def __init__(self, store: AgentStore, bus: RunBus | None, project: str, run: Json) -> None:
        self.store = store
        self.bus = bus
        self.project = project
        self.run = run
        self.status: str | None = None
        self.steps: dict[str, str] = {}
        """Step id → the status last sent for it."""
        self.open_messages: dict[str, str] = {}
        """Message id → the text sent for it so far, while it is open."""
        self.done_messages: set[str] = set()
        self.known = _Snapshot(run, [], {})
        """The run as last read or told, kept so news with contents needs no read."""
        self.read_at = 0
        """The bus's sequence when the last read began: news up to it is in that read."""

    async def resume(self) -> None:
        """For a stream that takes over after tool outputs: what the client has seen already
        (every step and message so far) is not sent again."""
        snapshot = await self._read()
        if snapshot is None:
            return
        for step in snapshot.steps:
            self.steps[step["id"]] = step["status"]
        self.done_messages.update(snapshot.messages)

    async def events(self, opening: list[Event]) -> AsyncIterator[bytes]:
        """The stream's bytes: `opening`, then events as the run goes on, then `done`."""
        with self._news() as news:
            for name, data in opening:
                if name.startswith("thread.run."):
                    self.status = data["status"]
                yield sse(name, data)
            try:
                async for event in self._follow(news):
                    yield event
            except Exception as exc:  # the response has started: say so in the stream
                log.exception("stream of run %s failed", self.run["id"])
                yield sse("error", {"error": {"code": "server_error", "message": str(exc)}})
            yield DONE

    async def _follow(self, news: asyncio.Queue[News]) -> AsyncIterator[bytes]:
        shortest = MIN_POLL if self.bus is None else MAX_POLL
        delay = shortest
        read = True
        while True:
            if read:
                snapshot = await self._read()
                if snapshot is None:
                    message = f"run '{self.run['id']}' no longer exists"
                    yield sse("error", {"error": {"code": "not_found", "message": message}})
                    break
                events, finished = self._catch_up(snapshot)
                for name, data in events:
                    yield sse(name, data)
                if finished:
                    break
            try:
                first = await asyncio.wait_for(news.get(), delay)
            except TimeoutError:
                delay = min(delay * 2, MAX_POLL)
                read = True
                continue
            delay = shortest
            events, read, finished = self._take(_drain(first, news))
            for name, data in events:
                yield sse(name, data)
            if finished:
                break

    def _take(self, items: list[News]) -> tuple[list[Event], bool, bool]:
        """The events news brings; whether the store must be read; whether the stream ends."""
        events: list[Event] = []
        read = told = False
        for item in items:
            if isinstance(item, Delta):
                events += self._piece(item)
            elif item.run is None:
                read = True
            elif item.sequence > self.read_at:
                self._learn(item)
                told = True
        if not told or read:
            return events, read, False
        caught_up, finished = self._catch_up(self.known)
        return events + caught_up, False, finished

    @contextlib.contextmanager
    def _news(self) -> Iterator[asyncio.Queue[News]]:
        if self.bus is None:
            yield asyncio.Queue()
            return
        with self.bus.watch(self.run["id"]) as queue:
            yield queue

    def _learn(self, news: Changed) -> None:
        assert news.run is not None
        steps = {step["id"]: step for step in self.known.steps}
        for step in news.steps:
            steps[step["id"]] = step
        messages = dict(self.known.messages)
        messages.update((m["id"], m) for m in news.messages if m["id"] not in self.done_messages)
        self.known = _Snapshot(news.run, list(steps.values()), messages)

    async def _read(self) -> _Snapshot | None:
        if self.bus is not None:
            self.read_at = self.bus.sequence
        snapshot = await self._read_store()
        if snapshot is not None:
            self.known = snapshot
        return snapshot

    async def _read_store(self) -> _Snapshot | None:
        run_id = self.run["id"]

        def work(conn: Connection) -> _Snapshot | None:
            try:
                run = fetch(conn, "run", self.project, run_id)
            except NotFound:
                return None
            steps = steps_of(conn, self.project, run["thread_id"], run_id)
            wanted = [m for m in map(_message_id, steps) if m and m not in self.done_messages]
            messages: dict[str, Json] = {}
            if wanted:
                rows = conn.execute(
                    select(thread_messages.c.id, thread_messages.c.body).where(
                        thread_messages.c.id.in_(wanted)
                    )
                )
                messages = {row.id: dict(row.body) for row in rows}
            return _Snapshot(run, steps, messages)

        return await self.store.database.read(work)

    # What to send --------------------------------------------------------------------------

    def _catch_up(self, snapshot: _Snapshot) -> tuple[list[Event], bool]:
        run = snapshot.run
        self.run = run
        events: list[Event] = []
        if run["status"] in _OPEN:
            events += self._run_status(run)
        for step in snapshot.steps:
            events += self._announce_step(step, run)
            message_id = _message_id(step)
            message = snapshot.messages.get(message_id) if message_id else None
            if message is not None and message_id not in self.done_messages:
                events += self._announce_message(message)
                if message["status"] != "in_progress":
                    events += self._finish_message(message)
            if step["status"] != "in_progress" and self.steps[step["id"]] != step["status"]:
                self.steps[step["id"]] = step["status"]
                events.append((f"thread.run.step.{step['status']}", step))
        if run["status"] not in _OPEN:
            events += self._run_status(run)
        finished = run["status"] in TERMINAL or run["status"] == "requires_action"
        return events, finished

    def _run_status(self, run: Json) -> list[Event]:
        if run["status"] == self.status:
            return []
        self.status = run["status"]
        return [(f"thread.run.{run['status']}", run)]

    def _announce_step(self, step: Json, run: Json) -> list[Event]:
        if step["id"] in self.steps:
            return []
        events: list[Event] = []
        if self.status == "queued":
            # A run is in progress before it has steps, even if no read caught it so.
            events += self._run_status({**run, "status": "in_progress"})
        self.steps[step["id"]] = "in_progress"
        events.append(("thread.run.step.created", _as_new(step)))
        return events

    def _announce_message(self, message: Json) -> list[Event]:
        if message["id"] in self.open_messages or message["id"] in self.done_messages:
            return []
        self.open_messages[message["id"]] = ""
        fresh = _as_new(message, content=[], incomplete_details=None, incomplete_at=None)
        return [("thread.message.created", fresh), ("thread.message.in_progress", fresh)]

    def _finish_message(self, message: Json) -> list[Event]:
        sent = self.open_messages.pop(message["id"], "")
        self.done_messages.add(message["id"])
        text = _text(message)
        events: list[Event] = []
        if text.startswith(sent) and len(text) > len(sent):
            events.append(_delta_event(message["id"], text[len(sent) :]))
        status = "incomplete" if message["status"] == "incomplete" else "completed"
        events.append((f"thread.message.{status}", message))
        return events

    def _piece(self, delta: Delta) -> list[Event]:
        message_id = delta.message["id"]
        if message_id in self.done_messages:
            return []
        events = self._announce_step(delta.step, self.run)
        events += self._announce_message(delta.message)
        self.open_messages[message_id] += delta.text
        events.append(_delta_event(message_id, delta.text))
        return events


def _delta_event(message_id: str, text: str) -> Event:
    return (
        "thread.message.delta",
        {
            "id": message_id,
            "object": "thread.message.delta",
            "delta": {
                "content": [
                    {"index": 0, "type": "text", "text": {"value": text, "annotations": []}}
                ]
            },
        },
    )


def _drain(first: News, news: asyncio.Queue[News]) -> list[News]:
    items = [first]
    while True:
        try:
            items.append(news.get_nowait())
        except asyncio.QueueEmpty:
            return items
