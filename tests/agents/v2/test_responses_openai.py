"""The `openai` client's Responses and Conversations APIs against Ferry, with a plain model
(Ferry as an OpenAI-compatible Responses server in front of its model router): text, chains
of responses, conversations, function tools, streaming, background and resume."""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator

import httpx2
import openai
import pytest
from openai import OpenAI

from tests.agents.conftest import Ferry

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather in a location.",
    "parameters": {
        "type": "object",
        "properties": {"location": {"type": "string"}},
        "required": ["location"],
    },
}


def client_for(ferry: Ferry, base_url: str) -> OpenAI:
    verify = ssl.create_default_context(cafile=str(ferry.ca))
    return OpenAI(
        base_url=base_url,
        api_key=ferry.token(),
        http_client=httpx2.Client(verify=verify),
        max_retries=0,
    )


@pytest.fixture
def client(weather_ferry: Ferry) -> Iterator[OpenAI]:
    with client_for(weather_ferry, f"{weather_ferry.endpoint()}/openai/v1") as made:
        yield made


def test_a_plain_model_answers_and_a_chain_remembers(client: OpenAI) -> None:
    first = client.responses.create(model="gpt-4o-mini", input="Hello there")
    assert first.status == "completed"
    assert first.output_text == "You said: Hello there"
    assert first.usage is not None and first.usage.total_tokens > 0
    second = client.responses.create(
        model="gpt-4o-mini", input="And again", previous_response_id=first.id
    )
    assert second.previous_response_id == first.id
    assert second.output_text == "You said: And again"
    assert client.responses.retrieve(second.id).output_text == "You said: And again"
    inputs = client.responses.input_items.list(second.id)
    assert [i.content[0].text for i in inputs.data] == ["And again"]


def test_a_function_call_ends_the_response_and_its_output_continues(client: OpenAI) -> None:
    first = client.responses.create(
        model="gpt-4o-mini", input="What is the weather in Paris?", tools=[WEATHER]
    )
    calls = [o for o in first.output if o.type == "function_call"]
    assert first.status == "completed" and len(calls) == 1
    assert json.loads(calls[0].arguments) == {"location": "Paris"}
    second = client.responses.create(
        model="gpt-4o-mini",
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": calls[0].call_id, "output": "rainy"}],
        tools=[WEATHER],
    )
    assert second.status == "completed"
    assert "rainy" in second.output_text


def test_conversations_hold_the_items(client: OpenAI) -> None:
    conversation = client.conversations.create(
        items=[{"type": "message", "role": "user", "content": "Hi"}], metadata={"k": "v"}
    )
    response = client.responses.create(model="gpt-4o-mini", conversation=conversation.id)
    assert response.output_text == "You said: Hi"
    client.conversations.items.create(
        conversation.id, items=[{"type": "message", "role": "user", "content": "Bye"}]
    )
    response = client.responses.create(model="gpt-4o-mini", conversation=conversation.id)
    assert response.output_text == "You said: Bye"
    items = list(client.conversations.items.list(conversation.id, order="asc"))
    assert [i.role for i in items] == ["user", "assistant", "user", "assistant"]
    assert client.conversations.retrieve(conversation.id).metadata == {"k": "v"}
    deleted = client.conversations.delete(conversation.id)
    assert deleted.deleted
    with pytest.raises(openai.NotFoundError):
        client.conversations.retrieve(conversation.id)


def test_streaming_tells_the_whole_answer(client: OpenAI) -> None:
    with client.responses.stream(model="gpt-4o-mini", input="stream me") as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert "response.output_text.delta" in kinds
    assert final.output_text == "You said: stream me"


def test_background_runs_can_be_polled_and_their_stream_replayed(client: OpenAI) -> None:
    started = client.responses.create(model="gpt-4o-mini", input="later", background=True)
    assert started.status in ("queued", "in_progress", "completed")
    with client.responses.stream(response_id=started.id) as stream:
        numbers = [event.sequence_number for event in stream]
        final = stream.get_final_response()
    assert final.output_text == "You said: later"
    assert numbers == list(range(len(numbers)))
    replay = client.responses.retrieve(started.id, stream=True, starting_after=2)
    tail = [event.sequence_number for event in replay]
    assert tail == numbers[3:]


def test_errors_have_the_openai_shape(client: OpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve("resp_missing")
    with pytest.raises(openai.BadRequestError) as refused:
        client.responses.create(
            model="gpt-4o-mini",
            input="x",
            previous_response_id="resp_a",
            conversation="conv_b",
        )
    assert refused.value.body["message"].startswith("Only one of")  # type: ignore[index]
    with pytest.raises(openai.BadRequestError):
        client.responses.create(input="no model")
