"""Server-sent events for a classic run, as a client asking for `"stream": true` reads them.

A stream is rebuilt from what is stored: each time the run changes, the watcher learns the
run, its steps and items (from the engine's news on the bus, or by reading the store), and
sends the events that take the client from what it has seen to what is stored now (created,
in_progress, completed, …, in the order the service sends them). So a stream is correct
whichever process works the run. The bus makes it prompt in this process, and carries the
model's text piece by piece while it is generated.

The stream ends, as the service's does, when the run needs tool outputs (`requires_action`)
or ends; a client answering tool outputs with `stream: true` gets a new stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import Connection, bindparam, select

from ferry import jsontext
from ferry.agents.classic.views import message_view, run_view, step_view
from ferry.agents.store import AgentStore
from ferry.runs.bus import Delta, News, RunBus, Snapshot, drain, polls_for, watch_run
from ferry.runs.calls import Call, calls_of
from ferry.runs.items import item_from_row
from ferry.runs.status import TERMINAL, CallState, RunStatus
from ferry.store.schema import items, run_steps, runs
from ferry.types import Json

__all__ = ["RunStream", "sse"]

log = logging.getLogger(__name__)

Event = tuple[str, Any]

_OPEN = ("queued", "in_progress", "cancelling")
"""Run statuses announced before the steps of a read; the others close a read, and the stream."""


# What a read of the store takes, built once (a stream reads it when news could not tell).
_RUN = select(runs).where(runs.c.project == bindparam("b_project"), runs.c.id == bindparam("b_run"))
_STEPS = (
    select(run_steps.c.body)
    .where(run_steps.c.run_id == bindparam("b_run"))
    .order_by(run_steps.c.seq)
)
_ITEMS = select(items).where(items.c.run_id == bindparam("b_run")).order_by(items.c.seq)


def sse(name: str, data: Any) -> bytes:
    """One event: a single `data:` line, since the SDKs read only one."""
    payload = data if isinstance(data, str) else jsontext.dumps(data)
    return f"event: {name}\ndata: {payload}\n\n".encode()


DONE = sse("done", "[DONE]")


def _joined(events: list[Event]) -> bytes:
    return b"".join(sse(name, data) for name, data in events)


class _Known:
    """The run as last read or told, in the core's shapes, and rendered for the wire."""

    def __init__(self, run_id: str, thread_id: str) -> None:
        self.run_id = run_id
        self.thread_id = thread_id
        self.status = RunStatus.QUEUED.value
        self.run: Json = {}
        self.steps: dict[str, Json] = {}
        self.items: dict[str, Json] = {}
        self.outputs: dict[str, str] = {}
        self.calls: dict[str, Call] = {}

    def learn(self, snapshot: Snapshot) -> None:
        self.status = snapshot.status
        self.run = snapshot.run
        for step in snapshot.steps:
            self.steps[step["id"]] = step
        for item in snapshot.items:
            self.items[item["id"]] = {**item, "conversation_id": self.thread_id}
        self.outputs.update(snapshot.outputs)
        self.calls.update((call.id, call) for call in snapshot.calls)

    def wire_run(self) -> Json:
        waiting = [
            self.items[c.id]
            for c in self.calls.values()
            if c.state == CallState.PENDING and c.for_client and c.id in self.items
        ]
        return run_view(self.run_id, self.thread_id, self.status, self.run, waiting)

    def wire_steps(self) -> list[Json]:
        assistant = (self.run.get("agent") or {}).get("id")
        return [
            step_view(
                step,
                self.run_id,
                self.thread_id,
                assistant,
                [i for i in self.items.values() if i.get("step_id") == step["id"]],
                self.calls,
                self.outputs,
            )
            for step in self.steps.values()
        ]

    def message(self, message_id: str) -> Json | None:
        item = self.items.get(message_id)
        return message_view(item) if item is not None else None


def _message_id(step: Json) -> str | None:
    if step["type"] != "message_creation":
        return None
    found = step["step_details"]["message_creation"]["message_id"]
    return str(found) if found else None


def _text(message: Json) -> str:
    return "".join(
        part["text"]["value"] for part in message.get("content") or [] if part["type"] == "text"
    )


def _as_new(body: Json, **changes: Any) -> Json:
    """The object as it looked when it was created."""
    fresh: Json = jsontext.copy(body)
    fresh.update(status="in_progress", completed_at=None, **changes)
    return fresh


class RunStream:
    def __init__(self, store: AgentStore, bus: RunBus | None, project: str, run: Json) -> None:
        self.store = store
        self.bus = bus
        self.project = project
        self.run = run
        self.known = _Known(run["id"], run["thread_id"])
        self.status: str | None = None
        self.steps: dict[str, str] = {}
        """Step id → the status last sent for it."""
        self.open_messages: dict[str, str] = {}
        """Message id → the text sent for it so far, while it is open."""
        self.done_messages: set[str] = set()
        self.read_at = 0
        """The bus's sequence when the last read began: news up to it is in that read."""
        self.fresh = False
        """Watched since before the run was created: the opening events say all there is,
        and the bus tells the rest, so the stream begins without reading the store."""
        self._watching = contextlib.ExitStack()
        # A stream never read (its client gone before the body began) still stops watching.
        weakref.finalize(self, self._watching.close)
        self._news: asyncio.Queue[News] | None = None

    def watch(self, *, fresh: bool = False) -> None:
        """Hear of the run from now on. `fresh`: called before the run is created, so that
        nothing the engine does in between is missed."""
        self.fresh = fresh
        self._news = self._watching.enter_context(watch_run(self.bus, self.run["id"]))

    def close(self) -> None:
        self._watching.close()

    def begin(self, run: Json) -> None:
        """The run as created, which the opening events send."""
        self.run = run
        self.known.thread_id = run["thread_id"]

    async def resume(self) -> None:
        """For a stream that takes over after tool outputs: what the client has seen already
        (every step and message so far) is not sent again."""
        if not await self._read():
            return
        for step in self.known.wire_steps():
            self.steps[step["id"]] = step["status"]
        self.done_messages.update(
            i for i, item in self.known.items.items() if item["type"] == "message"
        )

    async def events(self, opening: list[Event]) -> AsyncIterator[bytes]:
        """The stream's bytes: `opening`, then events as the run goes on, then `done`."""
        if self._news is None:
            self.watch()
        assert self._news is not None
        news = self._news
        with self._watching:
            for name, data in opening:
                if name.startswith("thread.run."):
                    self.status = data["status"]
            if opening:
                yield _joined(opening)
            try:
                async for chunk in self._follow(news):
                    yield chunk
            except Exception as exc:  # the response has started: say so in the stream
                log.exception("stream of run %s failed", self.run["id"])
                yield sse("error", {"error": {"code": "server_error", "message": str(exc)}})
            yield DONE

    async def _follow(self, news: asyncio.Queue[News]) -> AsyncIterator[bytes]:
        shortest, longest = polls_for(self.bus)
        delay = shortest
        read = not self.fresh
        while True:
            if read:
                if not await self._read():
                    message = f"run '{self.run['id']}' no longer exists"
                    yield sse("error", {"error": {"code": "not_found", "message": message}})
                    break
                events, finished = self._catch_up()
                if events:
                    yield _joined(events)
                if finished:
                    break
            try:
                async with asyncio.timeout(delay):
                    first = await news.get()
            except TimeoutError:
                delay = min(delay * 2, longest)
                read = True
                continue
            delay = shortest
            events, read, finished = self._take(drain(first, news))
            if events:
                # What one piece of news brings goes out as one write, not one per event.
                yield _joined(events)
            if finished:
                break

    def _take(self, told: list[News]) -> tuple[list[Event], bool, bool]:
        """The events news brings; whether the store must be read; whether the stream ends."""
        events: list[Event] = []
        read = learned = False
        for item in told:
            if isinstance(item, Delta):
                if learned and not read:
                    # What was stored before this piece is told first (a step carried out
                    # in process, such as a file search, comes before the answer it fed).
                    caught_up, finished = self._catch_up()
                    events += caught_up
                    learned = False
                    if finished:
                        return events, False, True
                events += self._piece(item)
            elif item.snapshot is None:
                read = True
            elif item.sequence > self.read_at:
                self.known.learn(item.snapshot)
                learned = True
        if not learned or read:
            return events, read, False
        caught_up, finished = self._catch_up()
        return events + caught_up, False, finished

    async def _read(self) -> bool:
        """Learn the run from the store; False if it no longer exists."""
        if self.bus is not None:
            self.read_at = self.bus.sequence
        run_id = self.run["id"]

        def work(conn: Connection) -> bool:
            given = {"b_project": self.project, "b_run": run_id}
            row = conn.execute(_RUN, given).one_or_none()
            if row is None:
                return False
            known = self.known
            known.status, known.run = row.status, dict(row.body)
            for body in conn.execute(_STEPS, given).scalars():
                known.steps[body["id"]] = dict(body)
            for item_row in conn.execute(_ITEMS, given):
                item = item_from_row(item_row)
                known.items[item["id"]] = item
                if item["type"] == "function_call_output":
                    known.outputs[item["call_id"]] = item["output"]
            known.calls.update((call.id, call) for call in calls_of(conn, [run_id]))
            return True

        return await self.store.read(work)

    # What to send --------------------------------------------------------------------------

    def _catch_up(self) -> tuple[list[Event], bool]:
        run = self.known.wire_run()
        self.run = run
        events: list[Event] = []
        if run["status"] in _OPEN:
            events += self._run_status(run)
        for step in self.known.wire_steps():
            events += self._announce_step(step, run)
            message_id = _message_id(step)
            message = self.known.message(message_id) if message_id else None
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

    def _close_tool_steps(self, step: Json) -> list[Event]:
        """The model answers again only once its tool calls are done: their step is told
        completed before the answer's step begins (the store records both with the answer)."""
        if step["id"] in self.steps:
            return []
        events: list[Event] = []
        for earlier in self.known.wire_steps():
            if earlier["type"] == "tool_calls" and self.steps.get(earlier["id"]) == "in_progress":
                self.steps[earlier["id"]] = "completed"
                done = {**earlier, "status": "completed", "completed_at": step["created_at"]}
                events.append(("thread.run.step.completed", done))
        return events

    def _piece(self, delta: Delta) -> list[Event]:
        message_id = delta.item["id"]
        if message_id in self.done_messages:
            return []
        item = {**delta.item, "conversation_id": self.known.thread_id, "run_id": self.run["id"]}
        assistant = (self.known.run.get("agent") or {}).get("id")
        step = step_view(
            delta.step, self.run["id"], self.known.thread_id, assistant, [item], {}, {}
        )
        events = self._close_tool_steps(step) + self._announce_step(step, self.run)
        events += self._announce_message(message_view(item))
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
