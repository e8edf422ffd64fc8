"""The v2 API's wire objects, rendered from the core: agents and versions, responses and
conversations.

A run is a response: its status as the Responses API knows it (a run cancelling is still in
progress; one that expired failed), its output the items it made, its settings as given.
Timestamps are integer Unix seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ferry.agents.tools import render_v2_tools
from ferry.agents.v2.items import render_item
from ferry.agents.v2.requests import text_of_format
from ferry.runs.calls import Call
from ferry.types import Json

__all__ = [
    "agent_view",
    "conversation_view",
    "response_status",
    "response_view",
    "version_view",
]

_STATUS = {
    "queued": "queued",
    "in_progress": "in_progress",
    "requires_action": "in_progress",
    "cancelling": "in_progress",
    "cancelled": "cancelled",
    "failed": "failed",
    "expired": "failed",
    "completed": "completed",
    "incomplete": "incomplete",
}


def response_status(status: str) -> str:
    return _STATUS.get(status, status)


def _choice(choice: Any) -> Any:
    if isinstance(choice, dict):
        return {"type": "function", "name": choice["name"]}
    return choice


def definition_view(definition: Json) -> Json:
    view: Json = {
        "kind": definition.get("kind", "prompt"),
        "model": definition["model"],
        "instructions": definition.get("instructions"),
        "tools": render_v2_tools(definition.get("tools") or []),
    }
    for key in ("temperature", "top_p"):
        if definition.get(key) is not None:
            view[key] = definition[key]
    if definition.get("tool_choice") is not None:
        view["tool_choice"] = _choice(definition["tool_choice"])
    if definition.get("format") is not None:
        view["text"] = text_of_format(definition["format"])
    if definition.get("structured_inputs"):
        view["structured_inputs"] = definition["structured_inputs"]
    return view


def version_view(name: str, version: int, body: Json) -> Json:
    return {
        "object": "agent.version",
        "id": f"{name}:{version}",
        "name": name,
        "version": str(version),
        "description": body.get("description"),
        "created_at": body["created_at"],
        "metadata": body.get("metadata") or {},
        "definition": definition_view(body["definition"]),
        "status": "active",
    }


def agent_view(name: str, agent: Json, latest: int, latest_body: Json) -> Json:
    view: Json = {
        "object": "agent",
        "id": name,
        "name": name,
        "versions": {"latest": version_view(name, latest, latest_body)},
        "state": "enabled",
        "configuration_state": "enabled",
    }
    if agent.get("agent_endpoint") is not None:
        view["agent_endpoint"] = agent["agent_endpoint"]
    return view


def conversation_view(conversation_id: str, body: Json) -> Json:
    return {
        "id": conversation_id,
        "object": "conversation",
        "created_at": body["created_at"],
        "metadata": body.get("metadata") or {},
    }


def _usage(usage: Json | None) -> Json | None:
    if usage is None:
        return None
    return {
        "input_tokens": usage["input_tokens"],
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": usage["output_tokens"],
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": usage["total_tokens"],
    }


def response_view(
    run_id: str,
    status: str,
    run: Json,
    *,
    conversation_id: str | None,
    previous_run_id: str | None,
    output: Sequence[Json],
    calls: dict[str, Call],
) -> Json:
    """`output`: the run's output items (those it made), in order; `calls`: their calls'
    states by item id."""
    agent = run.get("agent")
    reference = None
    if agent:
        reference = {"type": "agent_reference", "name": agent["name"]}
        if agent.get("version"):
            reference["version"] = str(agent["version"])
    shown = response_status(status)
    included = run.get("include") or []
    error = run.get("last_error") if shown == "failed" else None
    if status == "expired" and error is None:
        error = {"code": "expired", "message": "the response expired before it finished"}
    return {
        "id": run_id,
        "object": "response",
        "created_at": run["created_at"],
        "status": shown,
        "background": bool(run.get("background")),
        "completed_at": run.get("completed_at") if shown == "completed" else None,
        "error": error,
        "incomplete_details": run.get("incomplete_details"),
        "instructions": run.get("instructions"),
        "max_output_tokens": run.get("max_output_tokens"),
        "model": run["model"],
        "output": [
            render_item(item, calls, agent, results="file_search_call.results" in included)
            for item in output
        ],
        "parallel_tool_calls": run.get("parallel_tool_calls", True),
        "previous_response_id": previous_run_id,
        "conversation": {"id": conversation_id} if conversation_id else None,
        "agent_reference": reference,
        "reasoning": None,
        "store": run.get("store", True),
        "temperature": run.get("temperature"),
        "text": text_of_format(run.get("format")),
        "tool_choice": _choice(run.get("tool_choice") or "auto"),
        "tools": render_v2_tools(run.get("tools") or []),
        "top_p": run.get("top_p"),
        "truncation": run.get("truncation") or "disabled",
        "usage": _usage(run.get("usage")),
        "user": run.get("user"),
        "metadata": run.get("metadata") or {},
    }
