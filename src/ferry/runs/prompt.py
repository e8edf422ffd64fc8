"""What the model is shown for a run's next turn.

The run's instructions, then the items it sees before its own (a classic run sees its
thread's messages, cut by the truncation strategy; a v2 run sees its conversation's items or
the runs it follows, tool calls included), then its own items: the client's inputs, each tool
call as an assistant turn followed by one tool message per output, and messages it wrote.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Literal

from ferry.models.backend import ChatMessage, ChatRequest, ImagePart, ToolCall
from ferry.runs.ledger import RunState
from ferry.runs.records import text_of
from ferry.runs.tools import tool_specs
from ferry.types import Json

__all__ = ["FILE_IMAGE", "arguments_object", "build_request", "chat_history", "images_of"]

_ROLES: dict[str, Literal["system", "user", "assistant"]] = {
    "developer": "system",
    "system": "system",
    "user": "user",
    "assistant": "assistant",
}


def _tool_choice(choice: Any) -> Any:
    if isinstance(choice, dict):
        return {"type": "function", "function": {"name": choice["name"]}}
    return choice


def _seen(state: RunState) -> list[Json]:
    run = state.run
    earlier = state.context
    if state.api == "classic":
        # A classic run sees the thread's messages; earlier runs' tool calls stay with them.
        earlier = [item for item in earlier if item["type"] == "message"]
        strategy = run.get("truncation") or {}
        if strategy.get("type") == "last_messages" and strategy.get("last_messages"):
            earlier = earlier[-int(strategy["last_messages"]) :]
    return [*earlier, *state.own]


def chat_history(items: Iterable[Json]) -> list[ChatMessage]:
    """Items as chat messages: consecutive calls are one assistant turn, each followed by its
    output. A call with no output (or an output with no call) is left out: a model is never
    shown half a tool exchange."""
    items = list(items)
    answered = {i["call_id"] for i in items if i["type"] == "function_call_output"}
    # A call Ferry carried out itself (file_search) holds its output.
    answered |= {i["call_id"] for i in items if i["type"] == "function_call" and "output" in i}
    called = {i["call_id"] for i in items if i["type"] == "function_call"}
    history: list[ChatMessage] = []
    pending: list[ToolCall] = []
    outputs: list[ChatMessage] = []

    def flush() -> None:
        if pending:
            history.append(ChatMessage(role="assistant", tool_calls=tuple(pending)))
            history.extend(outputs)
            pending.clear()
            outputs.clear()

    for item in items:
        kind = item["type"]
        if kind == "function_call" and item["call_id"] in answered:
            if outputs:  # outputs of an earlier group came first: that group is complete
                flush()
            pending.append(ToolCall(item["call_id"], item["name"], item["arguments"]))
            if "output" in item:
                outputs.append(
                    ChatMessage(role="tool", content=item["output"], tool_call_id=item["call_id"])
                )
        elif kind == "function_call_output" and item["call_id"] in called:
            outputs.append(
                ChatMessage(role="tool", content=item["output"], tool_call_id=item["call_id"])
            )
        elif kind == "message":
            flush()
            role = _ROLES.get(item["role"], "user")
            history.append(ChatMessage(role=role, content=text_of(item), images=images_of(item)))
    flush()
    return history


FILE_IMAGE = "ferry-file:"
"""How an `image_file` part's URL reads until the engine puts the file's bytes in its place."""


def images_of(item: Json) -> tuple[ImagePart, ...]:
    images = []
    for part in item.get("content") or []:
        detail = part.get("detail") or "auto"
        if part["type"] == "image_url":
            images.append(ImagePart(part["url"], detail))
        elif part["type"] == "image_file":
            images.append(ImagePart(FILE_IMAGE + part["file_id"], detail))
    return tuple(images)


def build_request(state: RunState) -> ChatRequest:
    run = state.run
    messages = []
    if run.get("instructions"):
        messages.append(ChatMessage(role="system", content=run["instructions"]))
    messages += chat_history(_seen(state))
    specs = tool_specs(run)
    return ChatRequest(
        model=run["model"],
        messages=messages,
        tools=[spec for _, spec in specs.values()],
        tool_choice=_tool_choice(run.get("tool_choice")) if specs else None,
        parallel_tool_calls=bool(run.get("parallel_tool_calls", True)),
        response_format=run.get("format"),
        temperature=run.get("temperature"),
        top_p=run.get("top_p"),
        max_completion_tokens=run.get("max_output_tokens"),
    )


def arguments_object(arguments: str) -> Json | None:
    """A call's arguments as an object, or None if the model produced something else."""
    try:
        value = json.loads(arguments or "{}")
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
