"""The classic API's wire objects (OpenAI Assistants v2 shapes), rendered from the core.

An agent version is an assistant, a conversation a thread, a message item a message, a run a
run and a step a run step (`ferry.runs.records` has the stored shapes). Timestamps are integer
Unix seconds. Every field a client's model class reads is present, with `null` where the
service sends null, so SDK deserialisers find what they expect.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ferry.agents.tools import render_classic_tools
from ferry.runs.calls import Call
from ferry.runs.prompt import arguments_object
from ferry.types import Json

__all__ = [
    "assistant_view",
    "message_view",
    "run_view",
    "step_view",
    "thread_view",
]


def assistant_view(agent_id: str, name: str | None, version: Json) -> Json:
    definition = version["definition"]
    return {
        "id": agent_id,
        "object": "assistant",
        "created_at": version["created_at"],
        "name": name,
        "description": version.get("description"),
        "model": definition["model"],
        "instructions": definition.get("instructions"),
        "tools": render_classic_tools(definition.get("tools") or []),
        "tool_resources": definition.get("tool_resources") or {},
        "metadata": version.get("metadata") or {},
        "temperature": _or(definition.get("temperature"), 1.0),
        "top_p": _or(definition.get("top_p"), 1.0),
        "response_format": definition.get("format") or "auto",
    }


def _or(value: Any, default: Any) -> Any:
    return default if value is None else value


def thread_view(conversation_id: str, body: Json) -> Json:
    return {
        "id": conversation_id,
        "object": "thread",
        "created_at": body["created_at"],
        "metadata": body.get("metadata") or {},
        "tool_resources": body.get("tool_resources") or {},
    }


def _annotation(note: Json) -> Json:
    """A core annotation as the classic API writes it."""
    if note.get("type") == "file_path":
        return {
            "type": "file_path",
            "text": note["text"],
            "start_index": note["start_index"],
            "end_index": note["end_index"],
            "file_path": {"file_id": note["file_id"]},
        }
    if note.get("type") != "file_citation":
        return note
    return {
        "type": "file_citation",
        "text": note["text"],
        "start_index": note["start_index"],
        "end_index": note["end_index"],
        "file_citation": {"file_id": note["file_id"], "quote": ""},
    }


def _part(part: Json) -> Json | None:
    kind = part["type"]
    if kind == "text":
        notes = [_annotation(note) for note in part.get("annotations") or []]
        return {"type": "text", "text": {"value": part["text"], "annotations": notes}}
    if kind == "image_file":
        return {
            "type": "image_file",
            "image_file": {"file_id": part["file_id"], "detail": part.get("detail")},
        }
    if kind == "image_url":
        return {
            "type": "image_url",
            "image_url": {"url": part["url"], "detail": part.get("detail")},
        }
    return None


def _content(item: Json) -> list[Json]:
    return [view for part in item.get("content") or [] if (view := _part(part)) is not None]


def message_view(item: Json) -> Json:
    agent = item.get("agent") or {}
    return {
        "id": item["id"],
        "object": "thread.message",
        "created_at": item["created_at"],
        "thread_id": item["conversation_id"],
        "status": item["status"],
        "incomplete_details": item.get("incomplete_details"),
        "completed_at": item.get("completed_at"),
        "incomplete_at": item.get("incomplete_at"),
        "role": item["role"],
        "content": _content(item),
        "assistant_id": agent.get("id"),
        "run_id": item.get("run_id"),
        "attachments": item.get("attachments") or [],
        "metadata": item.get("metadata") or {},
    }


def _usage(usage: Json | None) -> Json | None:
    if usage is None:
        return None
    return {
        "prompt_tokens": usage["input_tokens"],
        "completion_tokens": usage["output_tokens"],
        "total_tokens": usage["total_tokens"],
    }


def _incomplete(details: Json | None) -> Json | None:
    """The core says `max_output_tokens`; the classic API, `max_completion_tokens`."""
    if details and details.get("reason") == "max_output_tokens":
        return {**details, "reason": "max_completion_tokens"}
    return details


def _tool_choice(choice: Any) -> Any:
    if isinstance(choice, dict):
        return {"type": "function", "function": {"name": choice["name"]}}
    return choice or "auto"


def run_view(run_id: str, thread_id: str, status: str, run: Json, waiting: Sequence[Json]) -> Json:
    """`waiting`: the function calls the client must answer (`call_id`, `name`,
    `arguments`), shown as `required_action` while the run requires action."""
    required = None
    approvals = [call for call in waiting if call.get("tool") != "function"]
    if status == "requires_action" and approvals:
        required = {
            "type": "submit_tool_approval",
            "submit_tool_approval": {
                "tool_calls": [
                    {
                        "id": call["call_id"],
                        "type": "mcp",
                        "name": call.get("target") or call["name"],
                        "arguments": call["arguments"],
                        "server_label": call.get("server_label") or "",
                    }
                    for call in approvals
                ]
            },
        }
    elif status == "requires_action":
        required = {
            "type": "submit_tool_outputs",
            "submit_tool_outputs": {
                "tool_calls": [
                    {
                        "id": call["call_id"],
                        "type": "function",
                        "function": {"name": call["name"], "arguments": call["arguments"]},
                    }
                    for call in waiting
                ]
            },
        }
    agent = run.get("agent") or {}
    return {
        "id": run_id,
        "object": "thread.run",
        "created_at": run["created_at"],
        "thread_id": thread_id,
        "assistant_id": agent.get("id"),
        "status": status,
        "required_action": required,
        "last_error": run.get("last_error"),
        "expires_at": run.get("expires_at"),
        "started_at": run.get("started_at"),
        "cancelled_at": run.get("cancelled_at"),
        "failed_at": run.get("failed_at"),
        "completed_at": run.get("completed_at"),
        "incomplete_details": _incomplete(run.get("incomplete_details")),
        "model": run["model"],
        "instructions": run.get("instructions") or "",
        "tools": render_classic_tools(run.get("tools") or []),
        "tool_resources": run.get("tool_resources") or {},
        "metadata": run.get("metadata") or {},
        "usage": _usage(run.get("usage")),
        "temperature": _or(run.get("temperature"), 1.0),
        "top_p": _or(run.get("top_p"), 1.0),
        "max_prompt_tokens": run.get("max_prompt_tokens"),
        "max_completion_tokens": run.get("max_output_tokens"),
        "truncation_strategy": run.get("truncation") or {"type": "auto", "last_messages": None},
        "tool_choice": _tool_choice(run.get("tool_choice")),
        "parallel_tool_calls": _or(run.get("parallel_tool_calls"), True),
        "response_format": run.get("format") or "auto",
    }


_RANKER = "default_2024_08_21"
"""The name the service gives its ranker when the client asks for `auto`."""


def _search_view(item: Json, content: bool) -> Json:
    ranking = item.get("ranking_options") or {"ranker": "auto", "score_threshold": 0.0}
    results = []
    for result in item.get("results") or []:
        shown: Json = {
            "file_id": result["file_id"],
            "file_name": result["file_name"],
            "score": result["score"],
        }
        if content:
            shown["content"] = [{"type": "text", "text": result["content"]}]
        results.append(shown)
    return {
        "id": item["call_id"],
        "type": "file_search",
        "file_search": {
            "ranking_options": {
                "ranker": _RANKER if ranking["ranker"] == "auto" else ranking["ranker"],
                "score_threshold": ranking["score_threshold"],
            },
            "results": results,
        },
    }


def _code_view(item: Json) -> Json:
    """A code_interpreter call: the program, and what it printed and showed."""
    arguments = arguments_object(item["arguments"]) or {}
    outputs = []
    for output in item.get("outputs") or []:
        if output["type"] == "logs":
            outputs.append({"type": "logs", "logs": output["logs"]})
        elif output["type"] == "image":
            outputs.append({"type": "image", "image": {"file_id": output["file_id"]}})
    error = item.get("error")
    if error is not None and not any(o["type"] == "logs" for o in outputs):
        outputs.append({"type": "logs", "logs": error.get("message") or ""})
    return {
        "id": item["call_id"],
        "type": "code_interpreter",
        "code_interpreter": {"input": str(arguments.get("code") or ""), "outputs": outputs},
    }


def _call_view(
    call: Call | None, item: Json, outputs: dict[str, str], content: bool = False
) -> Json:
    if item.get("tool") == "file_search":
        return _search_view(item, content)
    if item.get("tool") == "code_interpreter":
        return _code_view(item)
    if item.get("tool") == "connected_agent":
        return {
            "id": item["call_id"],
            "type": "connected_agent",
            "connected_agent": {
                "name": item["name"],
                "arguments": item["arguments"],
                "output": item.get("output"),
                "run_id": item.get("child_run_id"),
                "thread_id": item.get("child_thread_id"),
                "agent_id": item.get("agent_id"),
            },
        }
    if item.get("tool") == "openapi":
        return {
            "id": item["call_id"],
            "type": "openapi",
            "openapi": {
                "name": item["name"],
                "arguments": item["arguments"],
                "output": item.get("output") or "",
            },
        }
    if item.get("tool") == "mcp":
        return {
            "id": item["call_id"],
            "type": "mcp",
            "name": item.get("target") or item["name"],
            "arguments": item["arguments"],
            "output": item.get("output") or "",
            "server_label": item.get("server_label") or "",
        }
    view: Json = {
        "id": item["call_id"],
        "type": "function",
        "function": {
            "name": item["name"],
            "arguments": item["arguments"],
            "output": outputs.get(item["call_id"]),
        },
    }
    if call is not None and call.queued:
        view["queue"] = {
            "correlation_id": call.correlation_id,
            "input_queue": f"{call.input_url}/{call.input_queue}",
            "output_queue": f"{call.output_url}/{call.output_queue}",
            "status": call.state,
            "deadline": call.deadline // 1000 if call.deadline else None,
            "answered_at": call.answered_at // 1000 if call.answered_at else None,
        }
    return view


def _activity(item: Json) -> Json:
    """An MCP server's tools, as the run step that lists them shows them."""
    tools = {}
    for tool in item.get("tools") or []:
        schema = tool.get("input_schema") or {}
        tools[tool["name"]] = {
            "description": tool.get("description") or "",
            "parameters": {
                "type": "object",
                "properties": {
                    name: {
                        "type": str(spec.get("type") or "string"),
                        "description": spec.get("description") or "",
                    }
                    for name, spec in (schema.get("properties") or {}).items()
                    if isinstance(spec, dict)
                },
                "required": list(schema.get("required") or []),
            },
        }
    return {
        "type": "mcp_list_tools",
        "id": item["id"],
        "server_label": item.get("server_label") or "",
        "tools": tools,
    }


def step_view(
    step: Json,
    run_id: str,
    thread_id: str,
    assistant_id: str | None,
    items: Sequence[Json],
    calls: dict[str, Call],
    outputs: dict[str, str],
    *,
    content: bool = False,
) -> Json:
    """`items`: the step's own items; `calls`: the run's calls by item id; `outputs`: every
    output the run has, by call id; `content`: show file_search results' text (the client
    asked with `include[]`)."""
    if step["kind"] == "message_creation":
        message = next((i["id"] for i in items if i["type"] == "message"), None)
        details: Json = {
            "type": "message_creation",
            "message_creation": {"message_id": message},
        }
    elif step["kind"] == "activities":
        details = {
            "type": "activities",
            "activities": [_activity(i) for i in items if i["type"] == "mcp_list_tools"],
        }
    else:
        details = {
            "type": "tool_calls",
            "tool_calls": [
                _call_view(calls.get(i["id"]), i, outputs, content)
                for i in items
                if i["type"] == "function_call"
            ],
        }
    return {
        "id": step["id"],
        "object": "thread.run.step",
        "created_at": step["created_at"],
        "run_id": run_id,
        "assistant_id": assistant_id,
        "thread_id": thread_id,
        "type": step["kind"],
        "status": step["status"],
        "cancelled_at": step.get("cancelled_at"),
        "completed_at": step.get("completed_at"),
        "expired_at": step.get("expired_at"),
        "failed_at": step.get("failed_at"),
        "last_error": step.get("last_error"),
        "step_details": details,
        "usage": _usage(step.get("usage")),
        "metadata": {},
    }
