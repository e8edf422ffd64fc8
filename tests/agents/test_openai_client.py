"""The `openai` package's (deprecated) beta assistants client against Ferry: base_url at the
bare root (project `default`) or at `/api/projects/<project>`, an API key as the bearer
token, `OpenAI-Beta: assistants=v2` as the client sends it; Ferry's CA through an
`http_client`."""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from typing import Any

import httpx2
import openai
import pytest
from openai import AssistantEventHandler, OpenAI

from tests.agents.conftest import Ferry

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

WEATHER_PARAMETERS = {
    "type": "object",
    "properties": {"location": {"type": "string"}},
    "required": ["location"],
}


def client_for(ferry: Ferry, base_url: str, api_key: str | None = None) -> OpenAI:
    """The API key is a token of Ferry's local identity (`ferry env` prints one)."""
    verify = ssl.create_default_context(cafile=str(ferry.ca))
    return OpenAI(
        base_url=base_url,
        api_key=api_key or ferry.token(),
        http_client=httpx2.Client(verify=verify),
        max_retries=0,
    )


def function_agent(client: OpenAI) -> Any:
    """An agent with one client-side function tool, `get_weather`."""
    tool = {
        "type": "function",
        "function": {"name": "get_weather", "parameters": WEATHER_PARAMETERS},
    }
    return client.beta.assistants.create(model="gpt-4o-mini", tools=[tool])  # type: ignore[list-item]


@pytest.fixture
def client(weather_ferry: Ferry) -> Iterator[OpenAI]:
    with client_for(weather_ferry, weather_ferry.agents_url) as made:
        yield made


def test_assistants_crud_and_paging(client: OpenAI) -> None:
    made = [
        client.beta.assistants.create(model="gpt-4o-mini", name=f"a{i}", metadata={"i": str(i)})
        for i in range(5)
    ]
    got = client.beta.assistants.retrieve(made[0].id)
    assert got.name == "a0" and got.metadata == {"i": "0"} and got.object == "assistant"
    updated = client.beta.assistants.update(made[0].id, instructions="Be brief.")
    assert updated.instructions == "Be brief." and updated.name == "a0"
    # Auto-paging walks `after` cursors two at a time and finds every one, newest first.
    listed = [a.id for a in client.beta.assistants.list(limit=2)]
    ours = [a.id for a in made]
    assert [i for i in listed if i in ours] == ours[::-1]
    ascending = [a.id for a in client.beta.assistants.list(order="asc", limit=100)]
    assert [i for i in ascending if i in ours] == ours
    deleted = client.beta.assistants.delete(made[0].id)
    assert deleted.deleted and deleted.id == made[0].id
    with pytest.raises(openai.NotFoundError):
        client.beta.assistants.retrieve(made[0].id)


def test_threads_messages_and_a_run(client: OpenAI) -> None:
    agent = client.beta.assistants.create(model="gpt-4o-mini", instructions="Help.")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Hello"}])
    client.beta.threads.update(thread.id, metadata={"k": "v"})
    assert client.beta.threads.retrieve(thread.id).metadata == {"k": "v"}
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=agent.id, poll_interval_ms=50
    )
    assert run.status == "completed" and run.assistant_id == agent.id
    assert run.usage is not None and run.usage.total_tokens > 0
    messages = client.beta.threads.messages.list(thread_id=thread.id)
    texts = [m.content[0].text.value for m in messages.data]  # type: ignore[union-attr]
    assert texts == ["You said: Hello", "Hello"]
    by_run = client.beta.threads.messages.list(thread_id=thread.id, run_id=run.id)
    assert [m.role for m in by_run.data] == ["assistant"]
    steps = client.beta.threads.runs.steps.list(thread_id=thread.id, run_id=run.id)
    assert [s.type for s in steps.data] == ["message_creation"]
    step = client.beta.threads.runs.steps.retrieve(
        steps.data[0].id, thread_id=thread.id, run_id=run.id
    )
    assert step.step_details.type == "message_creation"
    assert client.beta.threads.delete(thread.id).deleted
    with pytest.raises(openai.NotFoundError):
        client.beta.threads.messages.list(thread_id=thread.id)


def test_function_tools_answered_by_the_client(client: OpenAI) -> None:
    agent = function_agent(client)
    run = client.beta.threads.create_and_run_poll(
        assistant_id=agent.id,
        thread={"messages": [{"role": "user", "content": "What is the weather in Oslo?"}]},
        poll_interval_ms=50,
    )
    assert run.status == "requires_action"
    assert run.required_action is not None
    [call] = run.required_action.submit_tool_outputs.tool_calls
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"location": "Oslo"}
    with pytest.raises(openai.BadRequestError):
        client.beta.threads.runs.submit_tool_outputs(
            run_id=run.id, thread_id=run.thread_id, tool_outputs=[]
        )
    run = client.beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=run.id,
        thread_id=run.thread_id,
        tool_outputs=[{"tool_call_id": call.id, "output": "rain, 9 degrees"}],
        poll_interval_ms=50,
    )
    assert run.status == "completed"
    last = client.beta.threads.messages.list(thread_id=run.thread_id, limit=1).data[0]
    assert "rain, 9 degrees" in last.content[0].text.value  # type: ignore[union-attr]


def test_an_azure_function_tool_over_the_queues(weather_ferry: Ferry, client: OpenAI) -> None:
    def queue(name: str) -> dict[str, Any]:
        return {
            "type": "storage_queue",
            "storage_queue": {
                "queue_service_endpoint": weather_ferry.queues_url,
                "queue_name": name,
            },
        }

    tool = {
        "type": "azure_function",
        "azure_function": {
            "function": {"name": "GetWeather", "parameters": WEATHER_PARAMETERS},
            "input_binding": queue("input"),
            "output_binding": queue("output"),
        },
    }
    # The openai client has no type for this tool; it passes the dict through as it is.
    agent = client.beta.assistants.create(model="gpt-4o-mini", tools=[tool])  # type: ignore[list-item]
    run = client.beta.threads.create_and_run_poll(
        assistant_id=agent.id,
        thread={"messages": [{"role": "user", "content": "What is the weather in Seattle, WA?"}]},
        poll_interval_ms=50,
    )
    assert run.status == "completed", run.last_error
    last = client.beta.threads.messages.list(thread_id=run.thread_id, limit=1).data[0]
    assert "74 degrees and sunny in Seattle, WA" in last.content[0].text.value  # type: ignore[union-attr]


class Collect(AssistantEventHandler):
    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.events: list[str] = []

    def on_text_delta(self, delta: Any, snapshot: Any) -> None:
        self.text.append(delta.value)

    def on_event(self, event: Any) -> None:
        self.events.append(event.event)


def test_streams_with_an_event_handler(client: OpenAI) -> None:
    agent = function_agent(client)
    thread = client.beta.threads.create(
        messages=[{"role": "user", "content": "What is the weather in Lima?"}]
    )
    first = Collect()
    with client.beta.threads.runs.stream(
        thread_id=thread.id, assistant_id=agent.id, event_handler=first
    ) as stream:
        stream.until_done()
    assert first.events[-1] == "thread.run.requires_action"
    run = first.current_run
    assert run is not None and run.required_action is not None
    [call] = run.required_action.submit_tool_outputs.tool_calls
    second = Collect()
    with client.beta.threads.runs.submit_tool_outputs_stream(
        thread_id=thread.id,
        run_id=run.id,
        tool_outputs=[{"tool_call_id": call.id, "output": "sunny"}],
        event_handler=second,
    ) as stream:
        stream.until_done()
    assert second.events[-1] == "thread.run.completed"
    assert "".join(second.text) == "get_weather says: sunny"


def test_cancel_and_refusals(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        client.beta.assistants.create(model="m", tools=[{"type": "bing_grounding"}])  # type: ignore[list-item]
    assert "bing_grounding" in str(refused.value)
    agent = function_agent(client)
    run = client.beta.threads.create_and_run_poll(
        assistant_id=agent.id,
        thread={"messages": [{"role": "user", "content": "weather in Rome"}]},
        poll_interval_ms=50,
    )
    assert run.status == "requires_action"
    cancelled = client.beta.threads.runs.cancel(run_id=run.id, thread_id=run.thread_id)
    assert cancelled.status in ("cancelling", "cancelled")
    run = client.beta.threads.runs.poll(run.id, thread_id=run.thread_id, poll_interval_ms=50)
    assert run.status == "cancelled"
    with pytest.raises(openai.BadRequestError):
        client.beta.threads.runs.cancel(run_id=run.id, thread_id=run.thread_id)


def test_projects_are_separate_for_the_openai_client(weather_ferry: Ferry) -> None:
    with (
        client_for(weather_ferry, weather_ferry.endpoint("alpha")) as alpha,
        client_for(weather_ferry, weather_ferry.endpoint("beta")) as beta,
    ):
        made = alpha.beta.assistants.create(model="gpt-4o-mini")
        assert alpha.beta.assistants.retrieve(made.id).id == made.id
        with pytest.raises(openai.NotFoundError):
            beta.beta.assistants.retrieve(made.id)


def test_a_key_that_is_not_a_ferry_token_is_refused(weather_ferry: Ferry) -> None:
    with (
        client_for(weather_ferry, weather_ferry.agents_url, api_key="sk-not-ferrys") as stranger,
        pytest.raises(openai.AuthenticationError),
    ):
        stranger.beta.assistants.list()
