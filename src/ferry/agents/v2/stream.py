"""The Responses stream of a run, read from its logged news (`ferry.runs.news`).

Every event carries its news number as `sequence_number`, so a stream can be read live, or
replayed from the start or from after any number (`GET /responses/{id}?stream=true
&starting_after=N`), by any process: the log is in the store. In the process working the run,
the bus brings each news at once, text deltas included before they are stored; elsewhere the
reader wakes on notices (PostgreSQL) or polls, and finds them in the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import AsyncIterator

from sqlalchemy import Connection, bindparam, select

from ferry import jsontext
from ferry.agents.store import AgentStore
from ferry.agents.v2.items import render_item
from ferry.agents.v2.responses import ResponsesV2
from ferry.agents.v2.views import response_status
from ferry.runs.bus import Changed, Delta, News, RunBus, drain, polls_for, watch_run
from ferry.store.schema import run_news, runs
from ferry.types import Json

__all__ = ["ResponseStream", "event"]

log = logging.getLogger(__name__)

_ENDS = {"completed": "response.completed", "failed": "response.failed"}
_ENDS.update(
    incomplete="response.incomplete", cancelled="response.failed", expired="response.failed"
)
_STARTS = {"created": "response.created", "queued": "response.queued"}
_STARTS["in_progress"] = "response.in_progress"


# What a read of the store takes, built once (a stream reads it when news could not tell).
_RUN = select(runs).where(runs.c.project == bindparam("b_project"), runs.c.id == bindparam("b_run"))
_NEWS = (
    select(run_news.c.body)
    .where(run_news.c.run_id == bindparam("b_run"), run_news.c.number > bindparam("b_after"))
    .order_by(run_news.c.number)
)


def event(data: Json) -> bytes:
    return f"event: {data['type']}\ndata: {jsontext.dumps(data)}\n\n".encode()


class ResponseStream:
    def __init__(
        self, store: AgentStore, bus: RunBus | None, project: str, run_id: str, after: int = -1
    ) -> None:
        self.store = store
        self.bus = bus
        self.project = project
        self.run_id = run_id
        self.last = after
        """The number of the last news sent."""
        self.response: Json | None = None
        """The response as last read, for the lifecycle events' snapshots."""
        self.done: dict[int, Json] = {}
        """Output index → item, for items the stream has seen finish."""
        self.ended = False
        self._watching = contextlib.ExitStack()
        # A stream never read (its client gone before the body began) still stops watching.
        weakref.finalize(self, self._watching.close)
        self._told: asyncio.Queue[News] | None = None
        self._opening: list[Json] = []

    def watch(self) -> None:
        """Hear of the run from now on: called before the run is created, so that nothing
        the engine does in between is missed (and the store need not be read for it)."""
        self._told = self._watching.enter_context(watch_run(self.bus, self.run_id))

    def close(self) -> None:
        self._watching.close()

    def opened(self, response: Json, news: list[Json]) -> None:
        """The run as created and the news it was created with, sent without a read."""
        self.response = response
        self._opening = news

    async def events(self) -> AsyncIterator[bytes]:
        if self._told is None:
            self.watch()
        assert self._told is not None
        told = self._told
        with self._watching:
            opening = [chunk for news in self._opening for chunk in self._send(news)]
            if opening:
                yield b"".join(opening)
            # With a bus, news comes as it happens: reads only catch a lost notice.
            shortest, longest = polls_for(self.bus)
            delay = shortest
            read = not self._opening
            while not self.ended:
                if read:
                    found = await self._read()
                    if found is None:
                        yield self._gone()
                        return
                    caught_up = [chunk for news in found for chunk in self._send(news)]
                    if caught_up:
                        yield b"".join(caught_up)
                    if self.ended:
                        return
                try:
                    async with asyncio.timeout(delay):
                        first = await told.get()
                except TimeoutError:
                    delay = min(delay * 2, longest)
                    read = True
                    continue
                delay = shortest
                chunks, read = self._take(drain(first, told))
                if chunks:
                    # What one piece of news brings goes out as one write.
                    yield b"".join(chunks)

    def _take(self, told: list[News]) -> tuple[list[bytes], bool]:
        """What news from the bus lets the stream send now, and whether the store must be
        read (a change told without contents, a gap, or the end, whose snapshot is read)."""
        chunks: list[bytes] = []
        for item in told:
            if isinstance(item, Changed) and item.snapshot is None:
                return chunks, True
            news_list = item.news if isinstance(item, (Delta, Changed)) else ()
            for news in news_list:
                if news["kind"] == "status" and news["status"] in _ENDS:
                    return chunks, True
                if news["number"] > self.last + 1:
                    return chunks, True
                chunks += self._send(news)
        return chunks, False

    def _gone(self) -> bytes:
        return event(
            {
                "type": "error",
                "code": "not_found",
                "message": f"response '{self.run_id}' no longer exists",
                "param": None,
                "sequence_number": self.last + 1,
            }
        )

    async def _read(self) -> list[Json] | None:
        def work(conn: Connection) -> list[Json] | None:
            given = {"b_project": self.project, "b_run": self.run_id}
            row = conn.execute(_RUN, given).one_or_none()
            if row is None:
                return None
            found = [
                dict(body)
                for body in conn.execute(
                    _NEWS, {"b_run": self.run_id, "b_after": self.last}
                ).scalars()
            ]
            ending = any(n["kind"] == "status" and n["status"] in _ENDS for n in found)
            if self.response is None or ending:  # what the lifecycle events show
                self.response = ResponsesV2.render(conn, row)
            return found

        return await self.store.read(work)

    def _send(self, news: Json) -> list[bytes]:
        if news["number"] <= self.last:
            return []
        self.last = news["number"]
        data = self._render(news)
        return [event(data)] if data is not None else []

    def _snapshot(self, status: str, final: bool) -> Json:
        assert self.response is not None
        response = dict(self.response)
        if final:
            return response
        response["status"] = (
            response_status(status)
            if status != "created"
            else ("queued" if response.get("background") else "in_progress")
        )
        response["output"] = (
            [] if status != "in_progress" else [self.done[i] for i in sorted(self.done)]
        )
        response["usage"] = None
        response["completed_at"] = None
        return response

    def _render(self, news: Json) -> Json | None:
        kind = news["kind"]
        number = news["number"]
        agent = (self.response or {}).get("agent_reference")
        agent_ref = {"name": agent["name"], "version": agent.get("version")} if agent else None
        if kind == "status":
            status = news["status"]
            if status in _ENDS:
                self.ended = True
                return {
                    "type": _ENDS[status],
                    "sequence_number": number,
                    "response": self._snapshot(status, final=True),
                }
            return {
                "type": _STARTS.get(status, "response.in_progress"),
                "sequence_number": number,
                "response": self._snapshot(status, final=False),
            }
        index = int(news.get("index") or 0)
        if kind in ("item.added", "item.done"):
            item = render_item(news["item"], None, agent_ref)
            if kind == "item.added":
                item["status"] = "in_progress"
                if item["type"] == "message":
                    item["content"] = []
            else:
                self.done[index] = item
            name = (
                "response.output_item.added"
                if kind == "item.added"
                else "response.output_item.done"
            )
            return {"type": name, "sequence_number": number, "output_index": index, "item": item}
        where = {"item_id": news.get("item_id"), "output_index": index}
        if kind in ("part.added", "part.done"):
            text = news.get("text", "")
            return {
                "type": "response.content_part.added"
                if kind == "part.added"
                else "response.content_part.done",
                "sequence_number": number,
                **where,
                "content_index": 0,
                "part": {"type": "output_text", "text": text, "annotations": [], "logprobs": []},
            }
        if kind == "text.delta":
            return {
                "type": "response.output_text.delta",
                "sequence_number": number,
                **where,
                "content_index": 0,
                "delta": news["delta"],
                "logprobs": [],
            }
        if kind == "text.done":
            return {
                "type": "response.output_text.done",
                "sequence_number": number,
                **where,
                "content_index": 0,
                "text": news["text"],
                "logprobs": [],
            }
        if kind == "arguments.delta":
            return {
                "type": "response.function_call_arguments.delta",
                "sequence_number": number,
                **where,
                "delta": news["delta"],
            }
        if kind == "arguments.done":
            return {
                "type": "response.function_call_arguments.done",
                "sequence_number": number,
                **where,
                "name": news["name"],
                "arguments": news["arguments"],
            }
        log.warning("response %s: news of an unknown kind %r", self.run_id, kind)
        return None
