"""OpenAIBackend against the fake server, through the real `openai` client and real HTTP."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from ferry.errors import ConfigError
from ferry.models.backend import ChatMessage, ChatRequest, ToolCall, ToolSpec
from ferry.models.backends.openai import OpenAIBackend
from ferry.models.config import ModelConfig
from ferry.models.errors import ModelError
from tests.fakes.openai_server import FakeOpenAIServer

MakeBackend = Callable[..., OpenAIBackend]

WEATHER = ToolSpec(
    name="GetWeather",
    description="Weather at a place",
    parameters={
        "type": "object",
        "properties": {"location": {"type": "string"}},
        "required": ["location"],
    },
)


def ask(text: str = "hi", **kwargs: Any) -> ChatRequest:
    return ChatRequest(model="gpt-test", messages=[ChatMessage("user", text)], **kwargs)


@pytest.fixture
async def make_backend(openai_server: FakeOpenAIServer) -> AsyncIterator[MakeBackend]:
    """Backends aimed at the fake server (no retries unless asked), closed afterwards."""
    made: list[OpenAIBackend] = []

    def make(**kwargs: Any) -> OpenAIBackend:
        kwargs.setdefault("base_url", openai_server.base_url)
        kwargs.setdefault("api_key", "test-key")
        kwargs.setdefault("max_retries", 0)
        backend = OpenAIBackend(**kwargs)
        made.append(backend)
        return backend

    yield make
    for backend in made:
        await backend.close()


async def test_text_reply_and_minimal_request(
    openai_server: FakeOpenAIServer, make_backend: MakeBackend
) -> None:
    openai_server.push_text("Hello there.", usage=(11, 3))
    backend = make_backend()

    result = await backend.complete(ask("Say hello"))

    assert backend.name == "openai"
    assert result.text == "Hello there."
    assert result.tool_calls == ()
    assert result.finish_reason == "stop"
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (11, 3)
    [request] = openai_server.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer test-key"
    assert request.body == {
        "model": "gpt-test",
        "messages": [{"role": "user", "content": "Say hello"}],
    }


async def test_full_request_mapping(
    openai_server: FakeOpenAIServer, make_backend: MakeBackend
) -> None:
    openai_server.push_text("done")
    call = ToolCall(id="call_1", name="GetWeather", arguments='{"location": "Paris"}')
    request = ChatRequest(
        model="gpt-test",
        messages=[
            ChatMessage("system", "Be brief."),
            ChatMessage("user", "Weather in Paris?"),
            ChatMessage("assistant", None, tool_calls=(call,)),
            ChatMessage("tool", "Sunny", tool_call_id="call_1"),
        ],
        tools=[WEATHER],
        tool_choice={"type": "function", "function": {"name": "GetWeather"}},
        parallel_tool_calls=False,
        response_format={"type": "json_object"},
        temperature=0.25,
        top_p=0.5,
        max_completion_tokens=64,
    )

    await make_backend().complete(request)

    body = openai_server.requests[0].body
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "GetWeather", "arguments": '{"location": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "content": "Sunny", "tool_call_id": "call_1"},
    ]
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "GetWeather",
                "description": "Weather at a place",
                "parameters": WEATHER.parameters,
            },
        }
    ]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "GetWeather"}}
    assert body["parallel_tool_calls"] is False
    assert body["response_format"] == {"type": "json_object"}
    assert (body["temperature"], body["top_p"], body["max_completion_tokens"]) == (0.25, 0.5, 64)
    assert "stream" not in body


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        (None, None),
        ("auto", None),
        ("text", {"type": "text"}),
        ({"type": "json_schema", "json_schema": {"name": "x", "schema": {}}}, "same"),
    ],
)
async def test_response_format(
    openai_server: FakeOpenAIServer, make_backend: MakeBackend, given: Any, sent: Any
) -> None:
    openai_server.push_text("{}")
    await make_backend().complete(ask(response_format=given))
    body = openai_server.requests[0].body
    assert body.get("response_format") == (given if sent == "same" else sent)


async def test_tool_fields_only_with_tools(
    openai_server: FakeOpenAIServer, make_backend: MakeBackend
) -> None:
    openai_server.push_text("ok")
    await make_backend().complete(ask(tool_choice="auto", parallel_tool_calls=False))
    body = openai_server.requests[0].body
    assert not {"tools", "tool_choice", "parallel_tool_calls"} & body.keys()


async def test_constructor_model_overrides_the_request(
    openai_server: FakeOpenAIServer, make_backend: MakeBackend
) -> None:
    openai_server.push_text("ok")
    await make_backend(model="served-name").complete(ask())
    assert openai_server.requests[0].body["model"] == "served-name"


async def test_tool_calls(openai_server: FakeOpenAIServer, make_backend: MakeBackend) -> None:
    ids = openai_server.push_tool_calls(
        ("GetWeather", {"location": "Seattle, WA"}), ("Lookup", "{not json")
    )

    result = await make_backend().complete(ask("weather?", tools=[WEATHER]))

    assert result.finish_reason == "tool_calls"
    assert result.text is None
    assert [c.id for c in result.tool_calls] == ids
    assert [c.name for c in result.tool_calls] == ["GetWeather", "Lookup"]
    assert json.loads(result.tool_calls[0].arguments) == {"location": "Seattle, WA"}
    assert result.tool_calls[1].arguments == "{not json"


async def test_streamed_text(openai_server: FakeOpenAIServer, make_backend: MakeBackend) -> None:
    openai_server.push_text("The weather is fine", usage=(9, 4))
    deltas: list[str] = []

    async def on_delta(piece: str) -> None:
        deltas.append(piece)

    result = await make_backend().complete(ask(), on_delta)

    assert deltas == ["The ", "weather ", "is ", "fine"]
    assert result.text == "The weather is fine"
    assert result.finish_reason == "stop"
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (9, 4)
    body = openai_server.requests[0].body
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}


async def test_streamed_tool_calls_are_assembled_by_index(
    openai_server: FakeOpenAIServer, make_backend: MakeBackend
) -> None:
    ids = openai_server.push_tool_calls(
        ("GetWeather", {"location": "Seattle, WA"}), ("GetWeather", {"location": "Paris"})
    )
    deltas: list[str] = []

    async def on_delta(piece: str) -> None:
        deltas.append(piece)

    result = await make_backend().complete(ask(tools=[WEATHER]), on_delta)

    assert deltas == []
    assert result.text is None
    assert result.finish_reason == "tool_calls"
    assert [c.id for c in result.tool_calls] == ids
    assert [json.loads(c.arguments) for c in result.tool_calls] == [
        {"location": "Seattle, WA"},
        {"location": "Paris"},
    ]


@pytest.mark.parametrize(
    ("status", "code"),
    [(429, "rate_limit_exceeded"), (500, "server_error"), (400, "server_error")],
)
@pytest.mark.parametrize("stream", [False, True])
async def test_status_errors(
    openai_server: FakeOpenAIServer,
    make_backend: MakeBackend,
    status: int,
    code: str,
    stream: bool,
) -> None:
    openai_server.push_error(status, f"the server's own words {status}")

    async def on_delta(piece: str) -> None:
        raise AssertionError("no text expected")

    with pytest.raises(ModelError) as caught:
        await make_backend().complete(ask(), on_delta if stream else None)

    assert caught.value.code == code
    assert f"the server's own words {status}" in caught.value.message
    assert str(status) in caught.value.message


async def test_retries_are_the_clients(
    openai_server: FakeOpenAIServer, make_backend: MakeBackend
) -> None:
    openai_server.push_error(503, "busy", headers={"retry-after-ms": "10"})
    openai_server.push_text("second time lucky")

    result = await make_backend(max_retries=1).complete(ask())

    assert result.text == "second time lucky"
    assert len(openai_server.requests) == 2


async def test_connection_refused(make_backend: MakeBackend) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    backend = make_backend(base_url=f"http://127.0.0.1:{port}/v1")

    with pytest.raises(ModelError) as caught:
        await backend.complete(ask())

    assert caught.value.code == "server_error"
    assert f"127.0.0.1:{port}" in caught.value.message


async def test_timeout(openai_server: FakeOpenAIServer, make_backend: MakeBackend) -> None:
    openai_server.push_delay(1.0)
    openai_server.push_text("too late")

    with pytest.raises(ModelError) as caught:
        await make_backend(timeout=0.2).complete(ask())

    assert caught.value.code == "timeout"
    assert "timed out" in caught.value.message


@pytest.mark.parametrize(
    "raw",
    ["this is not json", '{"id": "x", "object": "chat.completion", "choices": []}'],
)
async def test_malformed_answers(
    openai_server: FakeOpenAIServer, make_backend: MakeBackend, raw: str
) -> None:
    openai_server.push_raw(raw)
    with pytest.raises(ModelError) as caught:
        await make_backend().complete(ask())
    assert caught.value.code == "server_error"


async def test_azure_deployment_urls(
    openai_server: FakeOpenAIServer, make_backend: MakeBackend
) -> None:
    openai_server.push_text("from azure")
    openai_server.push_text("from azure again")
    by_agent_model = make_backend(base_url=openai_server.endpoint, azure=True)
    by_deployment = make_backend(
        base_url=openai_server.endpoint, azure=True, model="my-deployment", api_version="2025-01-01"
    )

    first = await by_agent_model.complete(ask())
    await by_deployment.complete(ask())

    assert by_agent_model.name == "azure-openai"
    assert first.text == "from azure"
    one, two = openai_server.requests
    assert one.path == "/openai/deployments/gpt-test/chat/completions"
    assert one.query == {"api-version": "2024-10-21"}
    assert one.headers["api-key"] == "test-key"
    assert two.deployment == "my-deployment"
    assert two.query == {"api-version": "2025-01-01"}


async def test_azure_needs_an_endpoint() -> None:
    with pytest.raises(ConfigError, match="endpoint"):
        OpenAIBackend(azure=True, api_key="k")


async def test_from_config(openai_server: FakeOpenAIServer) -> None:
    config = ModelConfig(
        backend="azure-openai", base_url=openai_server.endpoint, api_key="k", model="dep"
    )
    backend = OpenAIBackend.from_config(config, max_retries=0)
    try:
        openai_server.push_text("ok")
        assert (await backend.complete(ask())).text == "ok"
        assert openai_server.requests[0].deployment == "dep"
    finally:
        await backend.close()


async def test_nothing_queued_is_a_server_error(make_backend: MakeBackend) -> None:
    with pytest.raises(ModelError, match="no reply queued"):
        await make_backend().complete(ask())
