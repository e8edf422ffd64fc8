"""The run core's vocabulary: the stored shapes both API generations are views of.

An **agent** has **versions** (a definition: model, instructions, tools, sampling, output
format). A **conversation** is an ordered list of **items**: messages, tool calls and tool
outputs. A **run** is the agent (or a plain model) working on a conversation, or on the chain
of runs before it; it advances in **steps**, one model call each, and a step's tool calls each
have one record of their state (`tool_calls`). The classic API shows an agent version as an
assistant, a conversation as a thread, message items as messages, a run as a run and a step
as a run step; the v2 API shows agents and versions as themselves, a run as a response and
its items as the response's output.

Bodies are plain JSON objects; the functions here build them, so each shape is written once:

- message item: `type`, `role`, `content` (parts `{"type": "text", "text", "annotations"}`),
  `status`, `created_at`, `completed_at`, `incomplete_at`, `incomplete_details`,
  `attachments`, `metadata`, `agent` (the run's agent reference, for messages runs write);
- function call item: `type` "function_call", `call_id`, `name`, `arguments`, `tool` (the
  tool's type: "function" is answered by the client, "azure_function" over queues,
  "file_search" by Ferry itself, in which case the item also holds the `output` the model
  was shown and the tool's details, e.g. `queries` and `results`), `created_at`; its state
  is in `tool_calls`, never in the item;
- function output item: `type` "function_call_output", `call_id`, `output`, `tool`,
  `created_at`;
- step: `kind` ("message_creation" or "tool_calls"), `status`, the four end times,
  `created_at`, `last_error`, `usage`;
- run: its settings (`model`, `instructions`, `tools` in the core's tool shape, see
  `ferry.agents.tools`, `tool_choice`, `parallel_tool_calls`, `temperature`, `top_p`,
  `format`, `max_output_tokens`, `max_prompt_tokens`, `truncation`), `agent`, times,
  `last_error`, `incomplete_details`, `usage`, `metadata`, and how it runs: `client_calls`
  ("wait": stop in requires_action; "end": end the run, the client goes on with a new one),
  `horizon` (the last conversation item it sees), `tool_timeout` (ms), `background`,
  `store`. Its status is a column, never in the body.
"""

from __future__ import annotations

from typing import Any

from ferry.ids import new_id
from ferry.runs.status import StepStatus
from ferry.types import Json

__all__ = [
    "call_item",
    "message_item",
    "output_item",
    "run_record",
    "step_record",
    "text_of",
    "text_parts",
    "usage_record",
]


def text_parts(text: str) -> list[Json]:
    return [{"type": "text", "text": text, "annotations": []}]


def text_of(item: Json) -> str:
    """The text of a message item's parts."""
    return "".join(
        part.get("text") or "" for part in item.get("content") or [] if part["type"] == "text"
    )


def message_item(
    role: str,
    content: list[Json],
    now: int,
    *,
    status: str = "completed",
    attachments: list[Json] | None = None,
    metadata: dict[str, str] | None = None,
    agent: Json | None = None,
    item_id: str | None = None,
) -> Json:
    return {
        "id": item_id or new_id("msg"),
        "type": "message",
        "role": role,
        "content": content,
        "status": status,
        "created_at": now,
        "completed_at": now if status == "completed" else None,
        "incomplete_at": None,
        "incomplete_details": None,
        "attachments": attachments or [],
        "metadata": metadata or {},
        "agent": agent,
    }


def call_item(call_id: str, name: str, arguments: str, tool: str, now: int) -> Json:
    return {
        "id": new_id("fc"),
        "type": "function_call",
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        "tool": tool,
        "created_at": now,
    }


def output_item(call_id: str, output: str, tool: str, now: int) -> Json:
    return {
        "id": new_id("fco"),
        "type": "function_call_output",
        "call_id": call_id,
        "output": output,
        "tool": tool,
        "created_at": now,
    }


def run_record(now: int, **settings: Any) -> Json:
    """A new run's body: its settings, and the fields its life fills in."""
    return {
        "created_at": now,
        "started_at": None,
        "completed_at": None,
        "failed_at": None,
        "cancelled_at": None,
        "usage": None,
        "last_error": None,
        "incomplete_details": None,
        **settings,
    }


def step_record(kind: str, now: int, *, status: str = StepStatus.IN_PROGRESS) -> Json:
    return {
        "id": new_id("step"),
        "kind": kind,
        "status": status,
        "created_at": now,
        "completed_at": now if status == StepStatus.COMPLETED else None,
        "cancelled_at": None,
        "failed_at": None,
        "expired_at": None,
        "last_error": None,
        "usage": None,
    }


def usage_record(input_tokens: int, output_tokens: int) -> Json:
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "total_tokens": input_tokens + output_tokens,
    }
