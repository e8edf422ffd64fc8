"""Streaming runs (`"stream": true`): the GA SDK's run streams and raw server-sent events
against a real `ferry start`, for plain answers, function tools answered in the stream,
queue tools, failures and cancels."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from azure.ai.agents.models import AgentEventHandler, FunctionTool, MessageDeltaChunk

from tests.agents.conftest import Ferry
from tests.agents.test_runs_ga import weather_tool


@pytest.fixture(scope="module")
def ferry(weather_ferry: Ferry) -> Ferry:
    return weather_ferry


@pytest.fixture
def http(ferry: Ferry) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=ferry.endpoint("streams"),
        verify=ferry.tls_context(),
        headers=ferry.auth(),
        timeout=30,
    ) as client:
        yield client


def events_of(lines: Iterator[str]) -> Iterator[tuple[str, Any]]:
    """Server-sent events as (name, data) with data parsed as JSON (except `[DONE]`),
    checking each event is exactly one `event:` and one `data:` line."""
    block: list[str] = []
    for line in lines:
        if line:
            block.append(line)
            continue
        if not block:
            continue
        assert len(block) == 2, block
        assert block[0].startswith("event: ") and block[1].startswith("data: "), block
        name, data = block[0][7:], block[1][6:]
        block = []
        yield name, (data if data == "[DONE]" else json.loads(data))


def post_stream(http: httpx.Client, path: str, body: dict[str, Any]) -> list[tuple[str, Any]]:
    with http.stream("POST", path, json={**body, "stream": True}) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        return list(events_of(response.iter_lines()))


def assistant(http: httpx.Client, **fields: Any) -> str:
    response = http.post("/assistants", json={"model": "gpt-4o-mini", **fields})
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def names(events: list[tuple[str, Any]]) -> list[str]:
    return [name for name, _ in events]


def text_of(events: list[tuple[str, Any]]) -> str:
    return "".join(
        part["text"]["value"]
        for name, data in events
        if name == "thread.message.delta"
        for part in data["delta"]["content"]
    )


def test_raw_stream_of_create_thread_and_run(http: httpx.Client) -> None:
    agent = assistant(http)
    events = post_stream(
        http,
        "/threads/runs",
        {
            "assistant_id": agent,
            "thread": {"messages": [{"role": "user", "content": "Hello there, Ferry"}]},
        },
    )
    got = names(events)
    deltas = got.count("thread.message.delta")
    assert deltas >= 1
    assert [n for n in got if n != "thread.message.delta"] == [
        "thread.created",
        "thread.run.created",
        "thread.run.queued",
        "thread.run.in_progress",
        "thread.run.step.created",
        "thread.message.created",
        "thread.message.in_progress",
        "thread.message.completed",
        "thread.run.step.completed",
        "thread.run.completed",
        "done",
    ]
    first_delta = got.index("thread.message.delta")
    assert got[first_delta - 1] == "thread.message.in_progress"
    assert got[first_delta + deltas] == "thread.message.completed"
    assert events[-1] == ("done", "[DONE]")
    thread, run = events[0][1], events[1][1]
    assert thread["object"] == "thread" and run["object"] == "thread.run"
    assert run["thread_id"] == thread["id"]
    created_message = events[got.index("thread.message.created")][1]
    assert created_message["status"] == "in_progress" and created_message["content"] == []
    completed = events[got.index("thread.message.completed")][1]
    assert completed["status"] == "completed"
    stored_text = completed["content"][0]["text"]["value"]
    assert stored_text == "You said: Hello there, Ferry"
    assert text_of(events) == stored_text
    assert events[got.index("thread.run.completed")][1]["status"] == "completed"
    # What was streamed is what is stored.
    listed = http.get(f"/threads/{thread['id']}/messages").json()["data"]
    assert listed[0]["id"] == completed["id"]
    assert listed[0]["content"] == completed["content"]


def test_function_tool_ends_the_stream_and_outputs_open_another(http: httpx.Client) -> None:
    tool = {
        "type": "function",
        "function": {
            "name": "lookup",
            "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
        },
    }
    agent = assistant(http, tools=[tool])
    thread = http.post("/threads", json={}).json()["id"]
    http.post(
        f"/threads/{thread}/messages", json={"role": "user", "content": 'call lookup {"q": "x"}'}
    )
    first = post_stream(http, f"/threads/{thread}/runs", {"assistant_id": agent})
    assert names(first)[-3:] == ["thread.run.step.created", "thread.run.requires_action", "done"]
    run = first[-2][1]
    call = run["required_action"]["submit_tool_outputs"]["tool_calls"][0]
    assert call["function"] == {"name": "lookup", "arguments": '{"q": "x"}'}

    second = post_stream(
        http,
        f"/threads/{thread}/runs/{run['id']}/submit_tool_outputs",
        {"tool_outputs": [{"tool_call_id": call["id"], "output": "forty-two"}]},
    )
    got = [n for n in names(second) if n != "thread.message.delta"]
    assert got[0] == "thread.run.queued"
    # The tool step (seen in the first stream) completes; it is not announced again.
    assert got.count("thread.run.step.created") == 1
    tool_done = [d for n, d in second if n == "thread.run.step.completed"]
    assert tool_done[0]["type"] == "tool_calls"
    assert tool_done[0]["step_details"]["tool_calls"][0]["function"]["output"] == "forty-two"
    assert got[-2:] == ["thread.run.completed", "done"]
    assert text_of(second) == "lookup says: forty-two"


def test_failed_run_streams_its_error(http: httpx.Client) -> None:
    agent = assistant(http)
    events = post_stream(
        http,
        "/threads/runs",
        {"assistant_id": agent, "thread": {"messages": [{"role": "user", "content": "fail boom"}]}},
    )
    assert names(events)[-2:] == ["thread.run.failed", "done"]
    error = events[-2][1]["last_error"]
    assert error["code"] and "boom" in error["message"]


def test_cancel_ends_a_stream_waiting_on_a_queue_tool(ferry: Ferry, http: httpx.Client) -> None:
    tools = weather_tool(ferry.queues_url).definitions
    agent = assistant(http, tools=[t.as_dict() for t in tools])
    body = {
        "assistant_id": agent,
        "stream": True,
        "thread": {"messages": [{"role": "user", "content": "What is the weather in nowhere?"}]},
    }
    seen: list[tuple[str, Any]] = []
    with http.stream("POST", "/threads/runs", json=body) as response:
        events = events_of(response.iter_lines())
        for name, data in events:
            seen.append((name, data))
            if name == "thread.run.step.created":
                assert data["type"] == "tool_calls"
                run = seen[1][1]
                cancelled = http.post(f"/threads/{run['thread_id']}/runs/{run['id']}/cancel")
                assert cancelled.status_code == 200, cancelled.text
                break
        seen += list(events)
    got = names(seen)
    assert "thread.run.cancelling" in got
    assert got[-3:] == ["thread.run.step.cancelled", "thread.run.cancelled", "done"]


def test_stream_errors_before_the_run_are_json(http: httpx.Client) -> None:
    response = http.post(
        "/threads/runs", json={"assistant_id": "asst_missing", "stream": True, "thread": {}}
    )
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"]["code"]
    thread = http.post("/threads", json={}).json()["id"]
    response = http.post(
        f"/threads/{thread}/runs/run_missing/submit_tool_outputs",
        json={"tool_outputs": [{"tool_call_id": "c", "output": "o"}], "stream": True},
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"]


class Collect(AgentEventHandler):
    def __init__(self) -> None:
        super().__init__()
        self.pieces: list[str] = []
        self.statuses: list[str] = []

    def on_message_delta(self, delta: MessageDeltaChunk) -> None:
        self.pieces.append(delta.text)

    def on_thread_run(self, run: Any) -> None:
        self.statuses.append(run.status)


def test_sdk_stream_with_a_queue_tool(ferry: Ferry) -> None:
    with ferry.agents("sdk-streams") as client:
        agent = client.create_agent(
            model="gpt-4o-mini", name="w", tools=weather_tool(ferry.queues_url).definitions
        )
        thread = client.threads.create()
        client.messages.create(
            thread_id=thread.id, role="user", content="What is the weather in Seattle, WA?"
        )
        handler = Collect()
        with client.runs.stream(
            thread_id=thread.id, agent_id=agent.id, event_handler=handler
        ) as stream:
            stream.until_done()
        assert handler.statuses[0] == "queued"
        assert handler.statuses[-1] == "completed"
        assert "74 degrees and sunny in Seattle, WA" in "".join(handler.pieces)


def get_weather(location: str) -> str:
    """Weather for a location.

    :param location: The place.
    """
    return json.dumps({"location": location, "weather": "rainy"})


def test_sdk_stream_answers_function_calls_itself(ferry: Ferry) -> None:
    functions = FunctionTool({get_weather})
    with ferry.agents("sdk-streams") as client:
        client.enable_auto_function_calls({get_weather})
        agent = client.create_agent(model="gpt-4o-mini", name="f", tools=functions.definitions)
        thread = client.threads.create()
        client.messages.create(
            thread_id=thread.id, role="user", content="What is the weather in Oslo?"
        )
        handler = Collect()
        with client.runs.stream(
            thread_id=thread.id, agent_id=agent.id, event_handler=handler
        ) as stream:
            stream.until_done()
        assert "requires_action" in handler.statuses
        assert handler.statuses[-1] == "completed"
        assert "rainy" in "".join(handler.pieces)


def test_a_run_goes_on_when_its_stream_is_dropped(http: httpx.Client) -> None:
    agent = assistant(http)
    body = {
        "assistant_id": agent,
        "stream": True,
        "thread": {"messages": [{"role": "user", "content": "a b c d e f g"}]},
    }
    with http.stream("POST", "/threads/runs", json=body) as response:
        name, thread = next(events_of(response.iter_lines()))
    assert name == "thread.created"
    deadline = time.monotonic() + 20
    while True:
        runs = http.get(f"/threads/{thread['id']}/runs").json()["data"]
        if runs[0]["status"] == "completed":
            break
        assert time.monotonic() < deadline, runs[0]
        time.sleep(0.05)
    messages = http.get(f"/threads/{thread['id']}/messages").json()["data"]
    assert messages[0]["content"][0]["text"]["value"] == "You said: a b c d e f g"
