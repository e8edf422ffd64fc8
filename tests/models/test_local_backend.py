"""The embedded model (SmolLM2-135M on llama.cpp), really loaded and run: tool decisions,
grounded arguments, answers that state the tool's result, streaming and the request options.

These assert what the backend guarantees (a call's arguments occur in the user's words, an
answer after a tool states its result, JSON output parses), not what a 135M model happens to
write; its accuracy is measured by `python -m bench.models` instead.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from ferry.models.backend import ChatMessage, ChatRequest, ToolCall, ToolSpec
from ferry.models.backends.local import LocalBackend
from ferry.models.errors import ModelError
from tests.conftest import require_embedded_model

require_embedded_model()

WEATHER = ToolSpec(
    "GetWeather",
    "Get the weather in a location.",
    {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]},
)
TIME = ToolSpec(
    "GetTime",
    "Get the current local time in a city.",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
SYSTEM = ChatMessage("system", "You are a helpful support agent.")


@pytest.fixture(scope="module")
def backend() -> Iterator[LocalBackend]:
    """Loaded once for the module; each test drives it from its own event loop."""
    model = LocalBackend()
    model.start_loading().result()
    yield model
    asyncio.run(model.close())


def ask(text: str, **options: object) -> ChatRequest:
    return ChatRequest("any", [SYSTEM, ChatMessage("user", text)], **options)  # type: ignore[arg-type]


async def test_a_weather_question_calls_the_tool_with_the_place(backend: LocalBackend) -> None:
    result = await backend.complete(ask("What is the weather in Seattle, WA?", tools=[WEATHER]))
    assert result.finish_reason == "tool_calls"
    [call] = result.tool_calls
    assert call.name == "GetWeather"
    assert json.loads(call.arguments) == {"location": "Seattle, WA"}
    assert call.id.startswith("call_")


async def test_a_greeting_gets_text_and_no_tool_call(backend: LocalBackend) -> None:
    result = await backend.complete(ask("Say hello", tools=[WEATHER, TIME]))
    assert result.tool_calls == ()
    assert result.text
    assert result.finish_reason == "stop"


async def test_every_call_argument_occurs_in_the_users_words(backend: LocalBackend) -> None:
    for text in ["Thanks, that's all!", "Write a poem about cats", "Is it late in Moscow?"]:
        result = await backend.complete(ask(text, tools=[WEATHER, TIME], max_completion_tokens=8))
        for call in result.tool_calls:
            for value in json.loads(call.arguments).values():
                assert value.casefold() in text.casefold(), (text, call)


async def test_two_clauses_can_make_two_parallel_calls(backend: LocalBackend) -> None:
    text = "What time is it in Tokyo? And what is the weather in Seattle, WA?"
    result = await backend.complete(ask(text, tools=[WEATHER, TIME]))
    called = {(c.name, c.arguments) for c in result.tool_calls}
    assert ("GetWeather", json.dumps({"location": "Seattle, WA"})) in called
    assert ("GetTime", json.dumps({"city": "Tokyo"})) in called
    single = await backend.complete(ask(text, tools=[WEATHER, TIME], parallel_tool_calls=False))
    assert len(single.tool_calls) == 1


async def test_the_answer_after_a_tool_states_its_result_and_streams(
    backend: LocalBackend,
) -> None:
    call = ToolCall("call_1", "GetWeather", json.dumps({"location": "Seattle, WA"}))
    output = {"Value": "Weather is 74 degrees and sunny in Seattle, WA", "CorrelationId": "c"}
    request = ChatRequest(
        "any",
        [
            SYSTEM,
            ChatMessage("user", "What is the weather in Seattle, WA?"),
            ChatMessage("assistant", tool_calls=(call,)),
            ChatMessage("tool", json.dumps(output), tool_call_id="call_1"),
        ],
        tools=[WEATHER],
    )
    pieces: list[str] = []

    async def collect(piece: str) -> None:
        pieces.append(piece)

    result = await backend.complete(request, collect)
    assert result.tool_calls == ()
    assert "Weather is 74 degrees and sunny in Seattle, WA" in (result.text or "")
    assert "".join(pieces) == result.text


async def test_plain_chat_streams_what_it_returns(backend: LocalBackend) -> None:
    pieces: list[str] = []

    async def collect(piece: str) -> None:
        pieces.append(piece)

    result = await backend.complete(ask("Tell me a joke.", max_completion_tokens=24), collect)
    assert len(pieces) > 1
    assert "".join(pieces).strip() == result.text
    assert result.usage.completion_tokens == len(pieces)
    assert result.usage.prompt_tokens > 0


async def test_the_token_limit_ends_the_answer_with_length(backend: LocalBackend) -> None:
    result = await backend.complete(
        ask("Write a long story about a dragon.", max_completion_tokens=5)
    )
    assert result.finish_reason == "length"
    assert result.usage.completion_tokens <= 5


async def test_json_response_formats_are_followed(backend: LocalBackend) -> None:
    loose = await backend.complete(
        ask("Give me a JSON object about Paris.", response_format={"type": "json_object"})
    )
    # Any JSON may nest without end, so only a finished answer must parse.
    if loose.finish_reason == "stop":
        assert isinstance(json.loads(loose.text or ""), dict | list | str | int | float | bool)
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
        "required": ["city", "population"],
    }
    strict = await backend.complete(
        ask(
            "Describe Paris.",
            response_format={"type": "json_schema", "json_schema": {"name": "c", "schema": schema}},
        )
    )
    value = json.loads(strict.text or "")
    assert isinstance(value["city"], str) and isinstance(value["population"], int)


async def test_tool_choice_is_obeyed(backend: LocalBackend) -> None:
    none = await backend.complete(
        ask("What is the weather in Oslo?", tools=[WEATHER], tool_choice="none")
    )
    assert none.tool_calls == () and none.text
    named = await backend.complete(
        ask(
            "What is the weather in Oslo?",
            tools=[WEATHER, TIME],
            tool_choice={"type": "function", "function": {"name": "GetTime"}},
        )
    )
    assert [c.name for c in named.tool_calls] == ["GetTime"]
    required = await backend.complete(ask("Hello there", tools=[TIME], tool_choice="required"))
    assert [c.name for c in required.tool_calls] == ["GetTime"]


async def test_a_missing_model_fails_runs_with_how_to_install_it(tmp_path: Path) -> None:
    missing = LocalBackend(tmp_path / "absent.gguf")
    with pytest.raises(ModelError, match="cannot load the embedded model"):
        await missing.complete(ask("Hello"))
    await missing.close()
    uninstalled = LocalBackend()
    uninstalled.path = None
    with pytest.raises(ModelError, match=r"pip install 'ferry\[local\]'"):
        await uninstalled.complete(ask("Hello"))
    await uninstalled.close()


async def test_choosing_among_several_tools_is_warned_of_once_per_tool_set(
    backend: LocalBackend, caplog: pytest.LogCaptureFixture
) -> None:
    clock = ToolSpec("LocalClock", TIME.description, TIME.parameters)
    with caplog.at_level(logging.WARNING, logger="ferry.models.backends.local.backend"):
        await backend.complete(ask("What is the weather in Oslo?", tools=[WEATHER]))
        assert caplog.records == []
        for _ in range(2):
            await backend.complete(ask("What is the weather in Oslo?", tools=[WEATHER, clock]))
    [warning] = caplog.records
    assert "choosing among 2 tools (GetWeather, LocalClock)" in warning.getMessage()
    assert "docs/models.md" in warning.getMessage()
