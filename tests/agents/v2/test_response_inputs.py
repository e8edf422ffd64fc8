"""What a response sends the model, and what it keeps: the `openai` client's Responses calls
against `ferry serve agents` whose model is a fake OpenAI-compatible server recording every
request. Settings, history through chains and conversations, tool choice, token limits,
structured output, model failures; `store: false`, delete, conversation items."""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator

import httpx2
import openai
import pytest
from openai import OpenAI

from ferry.spawn import spawn
from tests.agents.conftest import Ferry
from tests.fakes.openai_server import FakeOpenAIServer

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "parameters": {"type": "object", "properties": {"location": {"type": "string"}}},
}


@pytest.fixture(scope="module")
def model() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture(scope="module")
def ferry(model: FakeOpenAIServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ferry]:
    data = tmp_path_factory.mktemp("responses")
    env = {"OPENAI_BASE_URL": model.base_url, "OPENAI_API_KEY": "sk-test"}
    child = spawn(["serve", "agents", "--port", "0"], data, env=env)
    yield Ferry(child, data)
    child.kill()


@pytest.fixture
def client(ferry: Ferry, model: FakeOpenAIServer) -> Iterator[OpenAI]:
    model.reset()
    verify = ssl.create_default_context(cafile=str(ferry.ca))
    with OpenAI(
        base_url=f"{ferry.endpoint('inputs')}/openai/v1",
        api_key=ferry.token(),
        http_client=httpx2.Client(verify=verify),
        max_retries=0,
    ) as made:
        yield made


def test_settings_reach_the_model(client: OpenAI, model: FakeOpenAIServer) -> None:
    model.push_text("ok")
    response = client.responses.create(
        model="gpt-test",
        instructions="Be terse.",
        input=[
            {"role": "developer", "content": "Speak French."},
            {"role": "user", "content": [{"type": "input_text", "text": "Bonjour"}]},
        ],
        temperature=0.3,
        top_p=0.9,
        max_output_tokens=50,
        tools=[WEATHER],  # type: ignore[list-item]
        tool_choice={"type": "function", "name": "get_weather"},
        parallel_tool_calls=False,
        metadata={"who": "test"},
    )
    sent = model.requests[-1].body
    assert sent["messages"] == [
        {"role": "system", "content": "Be terse."},
        {"role": "system", "content": "Speak French."},
        {"role": "user", "content": "Bonjour"},
    ]
    assert (sent["temperature"], sent["top_p"]) == (0.3, 0.9)
    assert sent["max_completion_tokens"] == 50
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert sent["parallel_tool_calls"] is False
    assert [t["function"]["name"] for t in sent["tools"]] == ["get_weather"]
    assert response.metadata == {"who": "test"}
    assert response.temperature == 0.3 and response.max_output_tokens == 50
    assert response.usage is not None and response.usage.input_tokens == 5


def test_a_chain_shows_the_model_everything_before(client: OpenAI, model: FakeOpenAIServer) -> None:
    model.push_text("first answer")
    model.push_tool_calls(("get_weather", {"location": "Rome"}))
    model.push_text("It rains in Rome.")
    one = client.responses.create(model="gpt-test", input="Hello")
    two = client.responses.create(
        model="gpt-test",
        input="Weather in Rome?",
        previous_response_id=one.id,
        tools=[WEATHER],  # type: ignore[list-item]
    )
    (call,) = [o for o in two.output if o.type == "function_call"]
    three = client.responses.create(
        model="gpt-test",
        previous_response_id=two.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "rain"}],
        tools=[WEATHER],  # type: ignore[list-item]
    )
    assert three.output_text == "It rains in Rome."
    shown = model.requests[-1].messages
    assert [m["role"] for m in shown] == ["user", "assistant", "user", "assistant", "tool"]
    assert shown[1]["content"] == "first answer"
    assert shown[3]["tool_calls"][0]["function"]["arguments"] == json.dumps({"location": "Rome"})
    assert shown[4] == {"role": "tool", "tool_call_id": call.call_id, "content": "rain"}
    # A fork from the first response does not see the second.
    model.push_text("forked")
    client.responses.create(model="gpt-test", input="Other way", previous_response_id=one.id)
    assert [m["content"] for m in model.requests[-1].messages] == [
        "Hello",
        "first answer",
        "Other way",
    ]


def test_structured_output_and_a_cut_short_answer(client: OpenAI, model: FakeOpenAIServer) -> None:
    model.push_text('{"city": "Oslo"}')
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    response = client.responses.create(
        model="gpt-test",
        input="Which city?",
        text={"format": {"type": "json_schema", "name": "City", "schema": schema, "strict": True}},
    )
    assert json.loads(response.output_text) == {"city": "Oslo"}
    assert model.requests[-1].body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "City", "schema": schema, "strict": True},
    }
    assert response.text.format.type == "json_schema"  # type: ignore[union-attr]
    model.push_text("half", finish_reason="length")
    cut = client.responses.create(model="gpt-test", input="Talk", max_output_tokens=2)
    assert cut.status == "incomplete"
    assert cut.incomplete_details is not None
    assert cut.incomplete_details.reason == "max_output_tokens"


def test_a_model_failure_fails_the_response(client: OpenAI, model: FakeOpenAIServer) -> None:
    model.push_error(400, "the prompt is not allowed", code="content_filter")
    failed = client.responses.create(model="gpt-test", input="forbidden")
    assert failed.status == "failed"
    assert failed.error is not None and "not allowed" in failed.error.message


def test_store_false_and_delete(client: OpenAI, model: FakeOpenAIServer) -> None:
    model.push_text("gone soon")
    fleeting = client.responses.create(model="gpt-test", input="x", store=False)
    assert fleeting.output_text == "gone soon" and fleeting.store is False
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(fleeting.id)
    model.push_text("kept")
    kept = client.responses.create(model="gpt-test", input="y")
    assert client.responses.delete(kept.id) is None
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(kept.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="gpt-test", input="z", previous_response_id=kept.id)


def test_conversation_items_one_by_one(client: OpenAI, model: FakeOpenAIServer) -> None:
    conversation = client.conversations.create()
    added = client.conversations.items.create(
        conversation.id,
        items=[
            {"type": "message", "role": "user", "content": "one"},
            {"type": "message", "role": "user", "content": "two"},
        ],
    )
    first, second = added.data
    assert (
        client.conversations.items.retrieve(first.id, conversation_id=conversation.id).id
        == first.id
    )
    client.conversations.items.delete(second.id, conversation_id=conversation.id)
    model.push_text("answer")
    client.responses.create(model="gpt-test", conversation=conversation.id)
    assert [m["content"] for m in model.requests[-1].messages] == ["one"]
    newest = client.conversations.items.list(conversation.id, limit=1)
    assert newest.data[0].role == "assistant"  # type: ignore[union-attr]
    assert newest.has_more
    updated = client.conversations.update(conversation.id, metadata={"topic": "numbers"})
    assert updated.metadata == {"topic": "numbers"}
