"""Deterministic rules standing in for a model, for tests and demos (no network, no weights).

- after tool results: answer with them;
- `call NAME {json}; call NAME2 {json}`: call those tools (in parallel);
- `fail …`: fail like a broken backend;
- "weather in/for/at X" with a tool taking `location`: call it with X;
- otherwise: `You said: …`.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import string

from ferry.models.backend import (
    ChatMessage,
    ChatRequest,
    ChatResult,
    DeltaCallback,
    ModelBackend,
    ModelError,
    ToolCall,
    ToolSpec,
    Usage,
)

__all__ = ["ScriptedBackend"]

_WEATHER = re.compile(r"weather\s+(?:in|for|at)\s+(?P<place>[^?.!]+)", re.IGNORECASE)
_CALL = re.compile(r"\s*call\s+(?P<name>[A-Za-z0-9_-]+)\s*(?P<args>\{.*\})?\s*$", re.S | re.I)
_ALPHABET = string.ascii_letters + string.digits


def _call_id() -> str:
    return "call_" + "".join(secrets.choice(_ALPHABET) for _ in range(24))


def _words(text: str | None) -> int:
    return len((text or "").split())


def _location_tool(tools: list[ToolSpec]) -> ToolSpec | None:
    for tool in tools:
        properties = tool.parameters.get("properties") or {}
        if "location" in properties:
            return tool
    return None


class ScriptedBackend(ModelBackend):
    name = "scripted"

    async def complete(
        self, request: ChatRequest, on_delta: DeltaCallback | None = None
    ) -> ChatResult:
        messages = list(request.messages)
        prompt = sum(_words(m.content) for m in messages)
        last_user = max((i for i, m in enumerate(messages) if m.role == "user"), default=-1)
        results = [m for m in messages[last_user + 1 :] if m.role == "tool"]
        if results:
            names = self._names(messages)
            text = " ".join(
                f"{names.get(m.tool_call_id or '', 'the tool')} says: {m.content}" for m in results
            )
            return await self._text(text, prompt, request, on_delta)
        user = messages[last_user].content or "" if last_user >= 0 else ""
        tools = list(request.tools)
        if tools and request.tool_choice != "none":
            calls = self._directed_calls(user, tools) or self._weather_call(user, tools)
            if not calls and (
                request.tool_choice == "required" or isinstance(request.tool_choice, dict)
            ):
                wanted = (
                    request.tool_choice["function"]["name"]
                    if isinstance(request.tool_choice, dict)
                    else tools[0].name
                )
                calls = [ToolCall(_call_id(), wanted, "{}")]
            if calls:
                if not request.parallel_tool_calls:
                    calls = calls[:1]
                return ChatResult(
                    text=None,
                    tool_calls=tuple(calls),
                    usage=Usage(prompt, sum(_words(c.arguments) for c in calls)),
                    finish_reason="tool_calls",
                )
        if user.lower().startswith("fail"):
            raise ModelError(user[4:].strip() or "scripted failure", code="server_error")
        return await self._text(
            f"You said: {user}" if user else "Hello.", prompt, request, on_delta
        )

    @staticmethod
    def _names(messages: list[ChatMessage]) -> dict[str, str]:
        return {call.id: call.name for m in messages for call in m.tool_calls}

    @staticmethod
    def _directed_calls(text: str, tools: list[ToolSpec]) -> list[ToolCall]:
        if not text.lower().lstrip().startswith("call "):
            return []
        calls = []
        for directive in text.split(";"):
            match = _CALL.match(directive)
            if match is None:
                continue
            arguments = match["args"] or "{}"
            # Arguments that are not JSON are passed on as written: the engine must cope.
            with contextlib.suppress(ValueError):
                arguments = json.dumps(json.loads(arguments))
            calls.append(ToolCall(_call_id(), match["name"], arguments))
        return calls

    @staticmethod
    def _weather_call(text: str, tools: list[ToolSpec]) -> list[ToolCall]:
        tool = _location_tool(tools)
        match = _WEATHER.search(text)
        if tool is None or match is None:
            return []
        place = match["place"].strip()
        return [ToolCall(_call_id(), tool.name, json.dumps({"location": place}))]

    @staticmethod
    async def _text(
        text: str, prompt: int, request: ChatRequest, on_delta: DeltaCallback | None
    ) -> ChatResult:
        words = text.split(" ")
        finish = "stop"
        limit = request.max_completion_tokens
        if limit is not None and len(words) > limit:
            words = words[:limit]
            finish = "length"
        text = " ".join(words)
        if on_delta is not None:
            for index, word in enumerate(words):
                await on_delta(word if index == len(words) - 1 else word + " ")
        return ChatResult(text=text, usage=Usage(prompt, len(words)), finish_reason=finish)
