"""What a run sends to an OpenAI-compatible model, and what it makes of the answers: a real
`ferry serve agents` pointed (`OPENAI_BASE_URL`) at a fake chat-completions server that
records each request and answers as scripted."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ferry.spawn import spawn
from tests.agents.conftest import Ferry
from tests.fakes.openai_server import FakeOpenAIServer, Reply

FINAL = {"completed", "failed", "incomplete", "requires_action", "cancelled", "expired"}
LOOKUP = {
    "type": "function",
    "function": {
        "name": "lookup",
        "description": "Look a word up.",
        "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
    },
}


@pytest.fixture(scope="module")
def model() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture(scope="module")
def ferry(model: FakeOpenAIServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ferry]:
    data = tmp_path_factory.mktemp("inputs")
    env = {"OPENAI_BASE_URL": model.base_url, "OPENAI_API_KEY": "sk-test"}
    child = spawn(["serve", "agents", "--port", "0"], data, env=env)
    yield Ferry(child, data)
    child.kill()


@pytest.fixture
def http(ferry: Ferry, model: FakeOpenAIServer) -> Iterator[httpx.Client]:
    model.reset()
    with httpx.Client(
        base_url=ferry.endpoint("inputs"),
        verify=ferry.tls_context(),
        headers=ferry.auth(),
        timeout=30,
    ) as client:
        yield client
    model.reset()


def post(http: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = http.post(path, json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def finish(http: httpx.Client, run: dict[str, Any]) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while run["status"] not in FINAL:
        assert time.monotonic() < deadline, run
        time.sleep(0.05)
        run = http.get(f"/threads/{run['thread_id']}/runs/{run['id']}").json()
    return run


def thread_with(http: httpx.Client, *texts: str) -> str:
    messages = [{"role": "user", "content": text} for text in texts]
    return str(post(http, "/threads", {"messages": messages})["id"])


def test_instructions_history_and_sampling_reach_the_model(
    http: httpx.Client, model: FakeOpenAIServer
) -> None:
    agent = post(http, "/assistants", {"model": "gpt-test", "instructions": "Be kind."})
    thread = thread_with(http, "one", "two", "three")
    model.push_text("done")
    run = post(
        http,
        f"/threads/{thread}/runs",
        {
            "assistant_id": agent["id"],
            "additional_instructions": "Answer in French.",
            "additional_messages": [{"role": "user", "content": "four"}],
            "truncation_strategy": {"type": "last_messages", "last_messages": 2},
            "temperature": 0.25,
            "top_p": 0.5,
            "max_completion_tokens": 64,
            "response_format": {"type": "json_object"},
        },
    )
    assert finish(http, run)["status"] == "completed"
    [sent] = model.requests
    body = sent.body
    assert body["model"] == "gpt-test"
    assert body["messages"] == [
        {"role": "system", "content": "Be kind.\n\nAnswer in French."},
        {"role": "user", "content": "three"},
        {"role": "user", "content": "four"},
    ]
    assert body["temperature"] == 0.25 and body["top_p"] == 0.5
    assert body["max_completion_tokens"] == 64
    assert body["response_format"] == {"type": "json_object"}
    assert "tools" not in body
    # The additional message joined the thread, as the service does.
    listed = http.get(f"/threads/{thread}/messages", params={"order": "asc"}).json()["data"]
    texts = [m["content"][0]["text"]["value"] for m in listed]
    assert texts == ["one", "two", "three", "four", "done"]


def test_run_instructions_replace_the_agents(http: httpx.Client, model: FakeOpenAIServer) -> None:
    agent = post(http, "/assistants", {"model": "gpt-test", "instructions": "Agent's."})
    model.push_text("ok")
    run = post(
        http,
        "/threads/runs",
        {
            "assistant_id": agent["id"],
            "instructions": "The run's.",
            "thread": {"messages": [{"role": "user", "content": "hi"}]},
        },
    )
    assert finish(http, run)["status"] == "completed"
    assert model.requests[0].body["messages"][0] == {"role": "system", "content": "The run's."}


@pytest.mark.parametrize(
    ("choice", "sent"),
    [
        ("none", "none"),
        ("required", "required"),
        (
            {"type": "function", "function": {"name": "lookup"}},
            {"type": "function", "function": {"name": "lookup"}},
        ),
    ],
)
def test_tools_and_tool_choice(
    http: httpx.Client, model: FakeOpenAIServer, choice: Any, sent: Any
) -> None:
    agent = post(http, "/assistants", {"model": "gpt-test", "tools": [LOOKUP]})
    model.push_text("no tool needed")
    run = post(
        http,
        "/threads/runs",
        {
            "assistant_id": agent["id"],
            "tool_choice": choice,
            "thread": {"messages": [{"role": "user", "content": "hi"}]},
        },
    )
    assert finish(http, run)["status"] == "completed"
    body = model.requests[0].body
    assert body["tool_choice"] == sent
    assert [t["function"]["name"] for t in body["tools"]] == ["lookup"]
    assert body["tools"][0]["function"]["parameters"] == LOOKUP["function"]["parameters"]


def test_parallel_calls_answered_together(http: httpx.Client, model: FakeOpenAIServer) -> None:
    agent = post(http, "/assistants", {"model": "gpt-test", "tools": [LOOKUP]})
    first, second = model.push_tool_calls(("lookup", {"q": "a"}), ("lookup", {"q": "b"}))
    model.push_text("a and b")
    run = finish(
        http,
        post(
            http,
            "/threads/runs",
            {
                "assistant_id": agent["id"],
                "thread": {"messages": [{"role": "user", "content": "?"}]},
            },
        ),
    )
    assert run["status"] == "requires_action"
    calls = run["required_action"]["submit_tool_outputs"]["tool_calls"]
    assert [c["id"] for c in calls] == [first, second]
    outputs = [{"tool_call_id": first, "output": "A"}, {"tool_call_id": second, "output": "B"}]
    run = post(
        http,
        f"/threads/{run['thread_id']}/runs/{run['id']}/submit_tool_outputs",
        {"tool_outputs": outputs},
    )
    assert finish(http, run)["status"] == "completed"
    followup = model.requests[1].messages
    assert [m["role"] for m in followup[-3:]] == ["assistant", "tool", "tool"]
    assert [tc["id"] for tc in followup[-3]["tool_calls"]] == [first, second]
    assert [(m["tool_call_id"], m["content"]) for m in followup[-2:]] == [
        (first, "A"),
        (second, "B"),
    ]


def test_a_model_cut_short_leaves_the_run_incomplete(
    http: httpx.Client, model: FakeOpenAIServer
) -> None:
    agent = post(http, "/assistants", {"model": "gpt-test"})
    model.push_text("half an ans", finish_reason="length")
    run = post(
        http,
        "/threads/runs",
        {
            "assistant_id": agent["id"],
            "max_completion_tokens": 3,
            "thread": {"messages": [{"role": "user", "content": "talk"}]},
        },
    )
    run = finish(http, run)
    assert run["status"] == "incomplete"
    assert run["incomplete_details"] == {"reason": "max_completion_tokens"}
    message = http.get(f"/threads/{run['thread_id']}/messages").json()["data"][0]
    assert message["status"] == "incomplete"


def test_model_errors_fail_the_run_with_the_backends_message(
    http: httpx.Client, model: FakeOpenAIServer
) -> None:
    agent = post(http, "/assistants", {"model": "gpt-test"})
    model.default = Reply(status=500, error={"message": "the model fell over", "type": "x"})
    run = post(
        http,
        "/threads/runs",
        {"assistant_id": agent["id"], "thread": {"messages": [{"role": "user", "content": "hi"}]}},
    )
    run = finish(http, run)
    assert run["status"] == "failed"
    assert "the model fell over" in run["last_error"]["message"]
    model.default = None
    # Ferry goes on serving.
    assert http.get("/assistants").status_code == 200


def test_a_call_to_a_tool_the_run_lacks_fails_it(
    http: httpx.Client, model: FakeOpenAIServer
) -> None:
    agent = post(http, "/assistants", {"model": "gpt-test", "tools": [LOOKUP]})
    model.push_tool_calls(("delete_everything", {}))
    run = post(
        http,
        "/threads/runs",
        {"assistant_id": agent["id"], "thread": {"messages": [{"role": "user", "content": "?"}]}},
    )
    run = finish(http, run)
    assert run["status"] == "failed"
    assert run["last_error"]["code"] == "invalid_tool_call"
    assert "delete_everything" in run["last_error"]["message"]


def test_a_malformed_model_answer_fails_the_run(
    http: httpx.Client, model: FakeOpenAIServer
) -> None:
    agent = post(http, "/assistants", {"model": "gpt-test"})
    model.default = Reply(raw="{this is not json")
    run = post(
        http,
        "/threads/runs",
        {"assistant_id": agent["id"], "thread": {"messages": [{"role": "user", "content": "hi"}]}},
    )
    run = finish(http, run)
    model.default = None
    assert run["status"] == "failed"
    assert run["last_error"]["message"]
