"""The scripted rules: deterministic, no network."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from ferry.models.backend import ChatMessage, ChatRequest, ToolCall, ToolSpec
from ferry.models.backends.scripted import ScriptedBackend
from ferry.models.errors import ModelError

WEATHER = ToolSpec(
    name="GetWeather",
    parameters={"type": "object", "properties": {"location": {"type": "string"}}},
)
CITY = ToolSpec(
    name="CityTime",
    parameters={
        "type": "object",
        "properties": {"city": {"type": "string"}, "utc": {"type": "boolean"}},
        "required": ["city"],
    },
)
CLOCK = ToolSpec(name="Clock", parameters={"type": "object", "properties": {}})
CALL_ID = re.compile(r"call_[A-Za-z0-9]{24}")


def ask(text: str | None, **kwargs: Any) -> ChatRequest:
    messages = [ChatMessage("system", "You are helpful.")]
    if text is not None:
        messages.append(ChatMessage("user", text))
    return ChatRequest(model="any", messages=messages, **kwargs)


async def complete(request: ChatRequest) -> Any:
    return await ScriptedBackend().complete(request)


def calls(result: Any) -> list[tuple[str, Any]]:
    assert result.finish_reason == "tool_calls"
    assert result.text is None
    assert all(CALL_ID.fullmatch(c.id) for c in result.tool_calls)
    return [(c.name, json.loads(c.arguments)) for c in result.tool_calls]


async def test_answers_with_tool_results() -> None:
    call = ToolCall("call_a", "GetWeather", '{"location": "Seattle, WA"}')
    request = ChatRequest(
        model="any",
        messages=[
            ChatMessage("user", "What is the weather in Seattle, WA?"),
            ChatMessage("assistant", tool_calls=(call,)),
            ChatMessage(
                "tool", "Weather is 74 degrees and sunny in Seattle, WA", tool_call_id="call_a"
            ),
        ],
        tools=[WEATHER],
        tool_choice="required",
    )

    result = await complete(request)

    assert result.text == "GetWeather says: Weather is 74 degrees and sunny in Seattle, WA"
    assert result.finish_reason == "stop"
    assert result.tool_calls == ()


async def test_several_tool_results() -> None:
    a, b = ToolCall("call_a", "A", "{}"), ToolCall("call_b", "B", "{}")
    request = ChatRequest(
        model="any",
        messages=[
            ChatMessage("user", "call A; call B"),
            ChatMessage("assistant", tool_calls=(a, b)),
            ChatMessage("tool", "one", tool_call_id="call_a"),
            ChatMessage("tool", "two", tool_call_id="call_b"),
        ],
    )
    assert (await complete(request)).text == "A says: one B says: two"


async def test_tool_results_before_the_last_user_message_are_history() -> None:
    call = ToolCall("call_a", "A", "{}")
    request = ChatRequest(
        model="any",
        messages=[
            ChatMessage("user", "call A"),
            ChatMessage("assistant", tool_calls=(call,)),
            ChatMessage("tool", "one", tool_call_id="call_a"),
            ChatMessage("user", "thanks"),
        ],
    )
    assert (await complete(request)).text == "You said: thanks"


async def test_call_directives() -> None:
    result = await complete(
        ask(
            'CALL GetWeather {"location": "Oslo; Norway"}; call Clock;'
            ' call NotOffered {"x": [1, 2]}',
            tools=[WEATHER, CLOCK],
        )
    )
    assert calls(result) == [
        ("GetWeather", {"location": "Oslo; Norway"}),
        ("Clock", {}),
        ("NotOffered", {"x": [1, 2]}),
    ]
    assert len({c.id for c in result.tool_calls}) == 3


async def test_call_arguments_that_are_not_json_pass_through() -> None:
    result = await complete(ask("call GetWeather {location: Oslo}", tools=[WEATHER]))
    assert [(c.name, c.arguments) for c in result.tool_calls] == [
        ("GetWeather", "{location: Oslo}")
    ]


async def test_one_call_when_parallel_calls_are_off() -> None:
    result = await complete(
        ask("call Clock; call GetWeather", tools=[WEATHER, CLOCK], parallel_tool_calls=False)
    )
    assert calls(result) == [("Clock", {})]


@pytest.mark.parametrize(
    "kwargs", [{}, {"tools": [CLOCK], "tool_choice": "none"}], ids=["no tools", "choice none"]
)
async def test_no_calls_without_tools(kwargs: dict[str, Any]) -> None:
    result = await complete(ask("call Clock", **kwargs))
    assert result.text == "You said: call Clock"
    assert result.finish_reason == "stop"


@pytest.mark.parametrize(
    ("text", "message"),
    [("fail", "scripted failure"), ("Fail: the GPU melted", "the GPU melted")],
)
async def test_fail(text: str, message: str) -> None:
    with pytest.raises(ModelError) as caught:
        await complete(ask(text, tools=[CLOCK], tool_choice="required"))
    assert (caught.value.code, caught.value.message) == ("server_error", message)


@pytest.mark.parametrize(
    ("text", "place"),
    [
        ("What is the weather in Seattle, WA?", "Seattle, WA"),
        ("weather for Paris. Thanks", "Paris"),
        ("Tell me the Weather at  Mount Rainier", "Mount Rainier"),
    ],
)
async def test_weather_calls_the_location_tool(text: str, place: str) -> None:
    result = await complete(ask(text, tools=[CLOCK, WEATHER]))
    assert calls(result) == [("GetWeather", {"location": place})]


async def test_weather_uses_the_only_required_string_parameter() -> None:
    result = await complete(ask("weather in Lima?", tools=[CLOCK, CITY]))
    assert calls(result) == [("CityTime", {"city": "Lima"})]


async def test_weather_without_a_place_tool_is_text() -> None:
    result = await complete(ask("weather in Lima?", tools=[CLOCK]))
    assert result.text == "You said: weather in Lima?"


async def test_weather_with_tool_choice_none_is_text() -> None:
    result = await complete(ask("weather in Lima?", tools=[WEATHER], tool_choice="none"))
    assert result.finish_reason == "stop"


async def test_required_calls_the_first_tool() -> None:
    result = await complete(ask("hello", tools=[CLOCK, WEATHER], tool_choice="required"))
    assert calls(result) == [("Clock", {})]


async def test_named_tool_choice() -> None:
    choice = {"type": "function", "function": {"name": "GetWeather"}}
    result = await complete(ask("hello", tools=[CLOCK, WEATHER], tool_choice=choice))
    assert calls(result) == [("GetWeather", {})]


async def test_echo_and_usage() -> None:
    result = await complete(ask("hello  there"))
    assert result.text == "You said: hello  there"
    assert result.finish_reason == "stop"
    # "You are helpful." + "hello there" in, "You said: hello there" out.
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (5, 4)


async def test_no_user_message() -> None:
    assert (await complete(ask(None))).text == "Hello."


async def test_streams_word_by_word() -> None:
    deltas: list[str] = []

    async def on_delta(piece: str) -> None:
        deltas.append(piece)

    result = await ScriptedBackend().complete(ask("one two"), on_delta)

    assert deltas == ["You ", "said: ", "one ", "two"]
    assert "".join(deltas) == result.text


async def test_max_completion_tokens_cuts_the_reply() -> None:
    deltas: list[str] = []

    async def on_delta(piece: str) -> None:
        deltas.append(piece)

    result = await ScriptedBackend().complete(
        ask("one two three", max_completion_tokens=3), on_delta
    )

    assert result.text == "You said: one"
    assert result.finish_reason == "length"
    assert result.usage.completion_tokens == 3
    assert "".join(deltas) == result.text


async def test_deterministic_apart_from_call_ids() -> None:
    backend = ScriptedBackend()
    assert backend.name == "scripted"
    first = await backend.complete(ask("weather in Oslo", tools=[WEATHER]))
    second = await backend.complete(ask("weather in Oslo", tools=[WEATHER]))
    assert calls(first) == calls(second)
    assert first.tool_calls[0].id != second.tool_calls[0].id
