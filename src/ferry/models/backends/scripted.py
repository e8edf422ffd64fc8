"""Deterministic rules standing in for a model, so tests and demos run without network or
weights. Applied in this order to the request:

1. tool results after the last user message: answer with them ("GetWeather says: …");
2. `call NAME {json}; call NAME2 {json}`: call those tools (several: in parallel);
3. `fail …`: fail like a broken backend, with the rest of the text as the message;
4. "weather in/for/at X" and a tool taking `location`: call it with X;
4b. a `file_search` tool: search for the user's words (its results are answered with the
   line of the best passage that shares most words with the question, and its marker);
5. tool_choice "required" or naming a function: call that (or the first) tool with `{}`;
6. otherwise: "You said: …" ("Hello." with no user message).

With tool_choice "none" no tool is ever called. Token counts are whitespace-separated words.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Sequence

from ferry.models.backend import (
    ChatMessage,
    ChatRequest,
    ChatResult,
    DeltaCallback,
    ModelBackend,
    ToolCall,
    ToolSpec,
    Usage,
)
from ferry.models.errors import ModelError

__all__ = ["ScriptedBackend"]

_WEATHER = re.compile(r"\bweather\s+(?:in|for|at)\s+(?P<place>[^?.]+)", re.IGNORECASE)
_DIRECTIVE = re.compile(r"\s*(?:call\s+)?(?P<name>[^\s{;]+)\s*", re.IGNORECASE)
_PIECE = re.compile(r"\S+\s*")
_DECODER = json.JSONDecoder()
_PASSAGE = re.compile(r"(?P<marker>【\d+:\d+†[^】\n]*】)\n(?P<text>(?:(?!【).*\n?)*)")
"""The first passage of a file_search result and its marker (`ferry.knowledge.filesearch`)."""


def _call_id() -> str:
    return "call_" + secrets.token_hex(12)


def _words(text: str | None) -> int:
    return len((text or "").split())


class ScriptedBackend(ModelBackend):
    name = "scripted"

    async def complete(
        self, request: ChatRequest, on_delta: DeltaCallback | None = None
    ) -> ChatResult:
        messages = list(request.messages)
        prompt = sum(_words(m.content) for m in messages)
        last_user = max((i for i, m in enumerate(messages) if m.role == "user"), default=None)
        start = 0 if last_user is None else last_user + 1
        results = [m for m in messages[start:] if m.role == "tool"]
        if results:
            return await _reply(_from_results(messages, results), prompt, request, on_delta)
        text = "" if last_user is None else (messages[last_user].content or "").strip()
        calls = _calls(text, request)
        if calls:
            if not request.parallel_tool_calls:
                calls = calls[:1]
            return ChatResult(
                text=None,
                tool_calls=tuple(calls),
                usage=Usage(prompt, sum(_words(c.arguments) for c in calls)),
                finish_reason="tool_calls",
            )
        return await _reply(f"You said: {text}" if text else "Hello.", prompt, request, on_delta)


def _from_results(messages: Sequence[ChatMessage], results: Sequence[ChatMessage]) -> str:
    names = {call.id: call.name for m in messages for call in m.tool_calls}
    answers = []
    for m in results:
        name = names.get(m.tool_call_id or "", "The tool")
        passage = _PASSAGE.search(m.content or "") if name == "file_search" else None
        if passage is not None:
            line = _closest_line(passage["text"], _question(messages))
            answers.append(f"{line[:300]} {passage['marker']}")
        else:
            answers.append(f"{name} says: {m.content or ''}".strip())
    return " ".join(answers)


def _question(messages: Sequence[ChatMessage]) -> str:
    users = [m.content or "" for m in messages if m.role == "user"]
    return users[-1] if users else ""


def _closest_line(passage: str, question: str) -> str:
    """The passage's line sharing most (lowercased) words with the question; the first on
    a tie."""
    wanted = set(re.findall(r"\w+", question.lower()))
    lines = [line.strip() for line in passage.splitlines() if line.strip()]
    if not lines:
        return ""
    return max(lines, key=lambda line: len(wanted & set(re.findall(r"\w+", line.lower()))))


def _calls(text: str, request: ChatRequest) -> list[ToolCall]:
    """Rules 2 to 5: the tool calls `text` asks for; `fail …` raises."""
    tools = list(request.tools)
    offered = bool(tools) and request.tool_choice != "none"
    if offered and text[:5].lower() == "call ":
        return _directed(text)
    if text[:4].lower() == "fail":
        raise ModelError(text[4:].strip(" :-\t\n") or "scripted failure", code="server_error")
    if not offered:
        return []
    weather = _weather(text, tools)
    if weather:
        return weather
    if text and any(tool.name == "file_search" for tool in tools):
        return [ToolCall(_call_id(), "file_search", json.dumps({"query": text}))]
    choice = request.tool_choice
    if choice == "required":
        return [ToolCall(_call_id(), tools[0].name, "{}")]
    if isinstance(choice, dict):
        function = choice.get("function")
        name = function.get("name") if isinstance(function, dict) else None
        return [ToolCall(_call_id(), name if isinstance(name, str) else tools[0].name, "{}")]
    return []


def _directed(text: str) -> list[ToolCall]:
    """`call A {…}; call B {…}` → calls of A and B. Tools the request does not offer are
    called anyway, and arguments that are not JSON are passed on as written: the engine must
    cope with both, as it must with a real model."""
    calls: list[ToolCall] = []
    position = 0
    while position < len(text):
        match = _DIRECTIVE.match(text, position)
        if match is None:  # only `;` and spaces are left before the next directive
            position += 1
            continue
        name, position = match["name"], match.end()
        arguments = "{}"
        if text.startswith("{", position):
            try:
                value, position = _DECODER.raw_decode(text, position)
                arguments = json.dumps(value)
            except ValueError:
                pass
        end = text.find(";", position)
        end = len(text) if end < 0 else end
        if text[position:end].strip():
            arguments = text[match.end() : end].strip()
        calls.append(ToolCall(_call_id(), name, arguments))
        position = end + 1
    return calls


def _weather(text: str, tools: Sequence[ToolSpec]) -> list[ToolCall]:
    match = _WEATHER.search(text)
    if match is None:
        return []
    place = match["place"].strip()
    for tool in tools:
        parameter = _place_parameter(tool)
        if parameter is not None and place:
            return [ToolCall(_call_id(), tool.name, json.dumps({parameter: place}))]
    return []


def _place_parameter(tool: ToolSpec) -> str | None:
    """`location` if the tool takes it, else its only required string parameter."""
    properties = tool.parameters.get("properties")
    if not isinstance(properties, dict):
        return None
    if "location" in properties:
        return "location"
    required = tool.parameters.get("required") or []
    strings = [
        name
        for name in required
        if isinstance(properties.get(name), dict) and properties[name].get("type") == "string"
    ]
    return strings[0] if len(required) == 1 and len(strings) == 1 else None


async def _reply(
    text: str, prompt: int, request: ChatRequest, on_delta: DeltaCallback | None
) -> ChatResult:
    """Text cut at `max_completion_tokens` words, streamed a word (and its space) at a time."""
    pieces = _PIECE.findall(text)
    finish = "stop"
    limit = request.max_completion_tokens
    if limit is not None and len(pieces) > limit:
        pieces = pieces[:limit]
        if pieces:
            pieces[-1] = pieces[-1].rstrip()
        finish = "length"
    if on_delta is not None:
        for piece in pieces:
            await on_delta(piece)
    return ChatResult(text="".join(pieces), usage=Usage(prompt, len(pieces)), finish_reason=finish)
