"""The wire objects of the agents API (OpenAI Assistants v2 shapes), built in one place.

Timestamps are integer Unix seconds. Every field a client's model class reads is present,
with `null` where the service sends null, so SDK deserialisers find what they expect.
"""

from __future__ import annotations

from typing import Any

from ferry.agents.ids import new_id
from ferry.agents.requests import AssistantCreate, RunCreate, ThreadAndRunCreate

__all__ = [
    "assistant_object",
    "message_object",
    "run_object",
    "step_object",
    "text_content",
    "thread_object",
]

Json = dict[str, Any]

DEFAULT_RUN_LIFETIME = 600
"""Seconds a run may wait for tool outputs before it expires (the service's 10 minutes)."""


def assistant_object(request: AssistantCreate, now: int) -> Json:
    return {
        "id": new_id("asst"),
        "object": "assistant",
        "created_at": now,
        "name": request.name,
        "description": request.description,
        "model": request.model,
        "instructions": request.instructions,
        "tools": request.tools or [],
        "tool_resources": {},
        "metadata": request.metadata or {},
        "temperature": 1.0 if request.temperature is None else request.temperature,
        "top_p": 1.0 if request.top_p is None else request.top_p,
        "response_format": request.response_format or "auto",
    }


def thread_object(metadata: dict[str, str] | None, now: int) -> Json:
    return {
        "id": new_id("thread"),
        "object": "thread",
        "created_at": now,
        "metadata": metadata or {},
        "tool_resources": {},
    }


def text_content(text: str) -> list[Json]:
    return [{"type": "text", "text": {"value": text, "annotations": []}}]


def message_object(
    thread_id: str,
    role: str,
    text: str,
    now: int,
    *,
    run_id: str | None = None,
    assistant_id: str | None = None,
    metadata: dict[str, str] | None = None,
    status: str = "completed",
) -> Json:
    return {
        "id": new_id("msg"),
        "object": "thread.message",
        "created_at": now,
        "thread_id": thread_id,
        "status": status,
        "incomplete_details": None,
        "completed_at": now if status == "completed" else None,
        "incomplete_at": None,
        "role": role,
        "content": text_content(text),
        "assistant_id": assistant_id,
        "run_id": run_id,
        "attachments": [],
        "metadata": metadata or {},
    }


def run_object(
    thread_id: str, assistant: Json, request: RunCreate | ThreadAndRunCreate, now: int
) -> Json:
    """A queued run: the agent's settings, overridden by the run's own."""
    instructions = request.instructions
    if instructions is None:
        instructions = assistant.get("instructions") or ""
    additional = getattr(request, "additional_instructions", None)
    if additional:
        instructions = f"{instructions}\n\n{additional}" if instructions else additional
    return {
        "id": new_id("run"),
        "object": "thread.run",
        "created_at": now,
        "thread_id": thread_id,
        "assistant_id": assistant["id"],
        "status": "queued",
        "required_action": None,
        "last_error": None,
        "expires_at": now + DEFAULT_RUN_LIFETIME,
        "started_at": None,
        "cancelled_at": None,
        "failed_at": None,
        "completed_at": None,
        "incomplete_details": None,
        "model": request.model or assistant["model"],
        "instructions": instructions,
        "tools": assistant["tools"] if request.tools is None else request.tools,
        "tool_resources": {},
        "metadata": request.metadata or {},
        "usage": None,
        "temperature": assistant.get("temperature", 1.0)
        if request.temperature is None
        else request.temperature,
        "top_p": assistant.get("top_p", 1.0) if request.top_p is None else request.top_p,
        "max_prompt_tokens": request.max_prompt_tokens,
        "max_completion_tokens": request.max_completion_tokens,
        "truncation_strategy": (
            request.truncation_strategy.model_dump()
            if request.truncation_strategy
            else {"type": "auto", "last_messages": None}
        ),
        "tool_choice": request.tool_choice or "auto",
        "parallel_tool_calls": request.parallel_tool_calls,
        "response_format": request.response_format or assistant.get("response_format", "auto"),
    }


def step_object(run: Json, details: Json, now: int, *, status: str = "in_progress") -> Json:
    return {
        "id": new_id("step"),
        "object": "thread.run.step",
        "created_at": now,
        "run_id": run["id"],
        "assistant_id": run["assistant_id"],
        "thread_id": run["thread_id"],
        "type": details["type"],
        "status": status,
        "cancelled_at": None,
        "completed_at": now if status == "completed" else None,
        "expired_at": None,
        "failed_at": None,
        "last_error": None,
        "step_details": details,
        "usage": None,
        "metadata": {},
    }
