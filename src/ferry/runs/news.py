"""Stream news: what a stream of a run tells, in order, numbered, in the core's words.

A run whose stream may be read (a v2 response created with `stream` or `background`) logs
its news with the commits that make it (`run_news`), so any process can serve its stream, and
a client can replay it from the start or from after any number. Each news is one event of the
Responses stream (`ferry.agents.v2.stream` words it): `status` (created, queued, in_progress
or how it ended), `item.added`/`item.done` (an output item with its index in the output),
`part.added`/`part.done`, `text.delta`/`text.done`, `arguments.delta`/`arguments.done`.

Text deltas are told as the model writes them (through the bus) and logged with the commit
that stores the whole message, keeping their numbers; a crash before that commit loses them
with the turn, which the next worker does again from the last stored number.
"""

from __future__ import annotations

from typing import Any

from ferry.runs.calls import Call
from ferry.runs.records import text_of
from ferry.types import Json

__all__ = ["Newsroom", "opening_news"]


def opening_news(background: bool) -> list[Json]:
    """What a new logged run's stream starts with (numbered from 0 by the ledger): created,
    and for a background run, queued."""
    news = [{"kind": "status", "status": "created"}]
    if background:
        news.append({"kind": "status", "status": "queued"})
    return news


class Newsroom:
    """The news of one advance of a run, numbered on from the run's count."""

    def __init__(self, state: Any) -> None:
        self.next: int | None = state.news
        self.pending: list[Json] = []
        self.index = sum(1 for item in state.own if item.get("step_id"))
        """The output index the next output item gets."""
        self.open: dict[str, int] = {}
        """Message item id → its output index, once its first piece was told."""

    def _tell(self, news: list[Json]) -> list[Json]:
        if self.next is None:
            return []
        for item in news:
            item["number"] = self.next
            self.next += 1
        self.pending.extend(news)
        return news

    def take(self) -> list[Json]:
        taken, self.pending = self.pending, []
        return taken

    def status(self, status: str) -> None:
        self._tell([{"kind": "status", "status": str(status)}])

    def _opened(self, item: Json) -> list[Json]:
        index = self.index
        self.index += 1
        self.open[item["id"]] = index
        fresh = {**item, "content": [], "status": "in_progress"}
        return [
            {"kind": "item.added", "index": index, "item": fresh},
            {"kind": "part.added", "index": index, "item_id": item["id"]},
        ]

    def delta(self, state: Any, item: Json, text: str) -> list[Json]:
        if self.next is None:
            return []
        news = [] if item["id"] in self.open else self._opened(item)
        news.append(
            {
                "kind": "text.delta",
                "index": self.open[item["id"]],
                "item_id": item["id"],
                "delta": text,
            }
        )
        return self._tell(news)

    def message_done(self, state: Any, item: Json) -> None:
        if self.next is None:
            return
        text = text_of(item)
        news = []
        if item["id"] not in self.open:
            news += self._opened(item)
            if text:
                index = self.open[item["id"]]
                news.append(
                    {"kind": "text.delta", "index": index, "item_id": item["id"], "delta": text}
                )
        index = self.open.pop(item["id"])
        news += [
            {"kind": "text.done", "index": index, "item_id": item["id"], "text": text},
            {"kind": "part.done", "index": index, "item_id": item["id"], "text": text},
            {"kind": "item.done", "index": index, "item": item},
        ]
        self._tell(news)

    def call_made(self, state: Any, item: Json, *, done: bool = True) -> None:
        """A call the model made. A client's function call is told with its arguments as
        deltas, as the Responses stream tells function calls; a call carried over queues
        (its own item type, which the arguments events do not apply to) whole; a call of a
        tool that acts is told added now (`done=False`) and done when carried out
        (`call_done`)."""
        if self.next is None:
            return
        index = self.index
        self.index += 1
        if item.get("tool") != "function":
            news = [{"kind": "item.added", "index": index, "item": item}]
            if done:
                news.append({"kind": "item.done", "index": index, "item": item})
            self._tell(news)
            return
        self._tell(
            [
                {"kind": "item.added", "index": index, "item": {**item, "arguments": ""}},
                {
                    "kind": "arguments.delta",
                    "index": index,
                    "item_id": item["id"],
                    "delta": item["arguments"],
                },
                {
                    "kind": "arguments.done",
                    "index": index,
                    "item_id": item["id"],
                    "name": item["name"],
                    "arguments": item["arguments"],
                },
                {"kind": "item.done", "index": index, "item": item},
            ]
        )

    def call_done(self, state: Any, item: Json) -> None:
        """A call of a tool that acts was carried out: its item, with the result, is done."""
        if self.next is None:
            return
        made = [i["id"] for i in state.own if i.get("step_id")]
        if item["id"] in made:
            self._tell([{"kind": "item.done", "index": made.index(item["id"]), "item": item}])

    def answered(self, state: Any, call: Call) -> None:
        """An output that came from a queue: told once (the run remembers which it told)."""
        if self.next is None or not call.queued:
            return
        shown = state.run.setdefault("shown", [])
        for item in state.own:
            if (
                item["type"] == "function_call_output"
                and item["call_id"] == call.call_id
                and item["id"] not in shown
            ):
                shown.append(item["id"])
                outputs = [i["id"] for i in state.own if i.get("step_id")]
                index = outputs.index(item["id"])
                self._tell(
                    [
                        {"kind": "item.added", "index": index, "item": item},
                        {"kind": "item.done", "index": index, "item": item},
                    ]
                )
