"""What the model is shown for a run's next turn.

The run's instructions, then the thread's messages (cut by the truncation strategy), then what
this run has done so far: each tool-calls step as an assistant turn with its calls followed by
one tool message per output, and the assistant messages it wrote.
"""

from __future__ import annotations

import json
from typing import Any

from ferry.models.backend import ChatMessage, ChatRequest, ToolCall, ToolSpec
from ferry.runs.ledger import RunState

__all__ = ["arguments_object", "build_request", "tool_specs"]

Json = dict[str, Any]


def _text(message: Json) -> str:
    return "".join(
        part["text"]["value"] for part in message.get("content", []) if part.get("type") == "text"
    )


def tool_specs(tools: list[Json]) -> dict[str, tuple[str, ToolSpec]]:
    """Tool name → (tool type, what the model is told about it)."""
    specs: dict[str, tuple[str, ToolSpec]] = {}
    for tool in tools:
        body = tool["azure_function"] if tool["type"] == "azure_function" else tool
        function = body["function"]
        specs[function["name"]] = (
            tool["type"],
            ToolSpec(
                name=function["name"],
                description=function.get("description") or "",
                parameters=function.get("parameters") or {"type": "object", "properties": {}},
            ),
        )
    return specs


def _tool_choice(choice: Any) -> Any:
    if isinstance(choice, dict):
        return {"type": "function", "function": {"name": choice["function"]["name"]}}
    return choice


def _history(state: RunState) -> list[ChatMessage]:
    run = state.run
    earlier = [m for m in state.messages if m.get("run_id") != run["id"]]
    strategy = run.get("truncation_strategy") or {}
    if strategy.get("type") == "last_messages" and strategy.get("last_messages"):
        earlier = earlier[-int(strategy["last_messages"]) :]
    history = [ChatMessage(role=m["role"], content=_text(m)) for m in earlier]
    own = {m["id"]: m for m in state.messages if m.get("run_id") == run["id"]}
    for step in state.steps:
        details = step["step_details"]
        if details["type"] == "message_creation":
            message = own.get(details["message_creation"]["message_id"])
            if message is not None:
                history.append(ChatMessage(role="assistant", content=_text(message)))
            continue
        calls = details["tool_calls"]
        history.append(
            ChatMessage(
                role="assistant",
                tool_calls=tuple(
                    ToolCall(c["id"], c["function"]["name"], c["function"]["arguments"])
                    for c in calls
                ),
            )
        )
        for call in calls:
            output = call["function"].get("output")
            history.append(ChatMessage(role="tool", content=output or "", tool_call_id=call["id"]))
    return history


def build_request(state: RunState) -> ChatRequest:
    run = state.run
    messages = []
    if run.get("instructions"):
        messages.append(ChatMessage(role="system", content=run["instructions"]))
    messages += _history(state)
    specs = tool_specs(run.get("tools") or [])
    return ChatRequest(
        model=run["model"],
        messages=messages,
        tools=[spec for _, spec in specs.values()],
        tool_choice=_tool_choice(run.get("tool_choice")) if specs else None,
        parallel_tool_calls=bool(run.get("parallel_tool_calls", True)),
        response_format=run.get("response_format"),
        temperature=run.get("temperature"),
        top_p=run.get("top_p"),
        max_completion_tokens=run.get("max_completion_tokens"),
    )


def arguments_object(arguments: str) -> Json | None:
    """A call's arguments as an object, or None if the model produced something else."""
    try:
        value = json.loads(arguments or "{}")
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
