"""Malformed and hostile requests to the v2 API over raw https, on SQLite and PostgreSQL: each
gets the status the hosted service uses and an OpenAI-style error body (`{"error": {"message",
"type", "param", "code"}}`), never a 500, and changes nothing stored."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.agents.conftest import Ferry

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "parameters": {"type": "object", "properties": {"location": {"type": "string"}}},
}


@pytest.fixture
def http(ferry: Ferry) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=ferry.endpoint("p"), verify=ferry.tls_context(), headers=ferry.auth(), timeout=20
    ) as client:
        yield client


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) >= {"message", "type", "param", "code"}
    assert isinstance(error["message"], str) and error["message"]
    assert error["type"] == "invalid_request_error"
    return dict(error)


def version(http: httpx.Client, name: str, **definition: Any) -> dict[str, Any]:
    body = {"definition": {"kind": "prompt", "model": "m", **definition}}
    made = http.post(f"/agents/{name}/versions", params={"api-version": "v1"}, json=body)
    assert made.status_code == 200, made.text
    return dict(made.json())


def respond(http: httpx.Client, **body: Any) -> httpx.Response:
    return http.post("/openai/v1/responses", json=body)


def test_no_credentials_is_401(ferry: Ferry) -> None:
    with httpx.Client(verify=ferry.tls_context()) as client:
        error_of(client.post(f"{ferry.endpoint()}/openai/v1/responses", json={}), 401)


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b"[1]", b'"text"', b"", b'{"input": 7, "model": "m"}', b'{"model": 7}'],
)
def test_malformed_response_bodies_are_400(http: httpx.Client, raw: bytes) -> None:
    error_of(http.post("/openai/v1/responses", content=raw), 400)


@pytest.mark.parametrize(
    ("item", "status"),
    [
        ({"role": "robot", "content": "x"}, 400),
        ({"role": "user", "content": 5}, 400),
        ({"role": "user", "content": [{"type": "input_text"}]}, 400),
        ({"role": "user", "content": [{"type": "input_image", "image_url": "x"}]}, 400),
        ({"type": "reasoning", "summary": []}, 400),
        ({"type": "no_such_item"}, 400),
        ({"type": "function_call_output", "output": "x"}, 400),
        ({"type": "function_call", "call_id": "c"}, 400),
        ("just a string", 400),
    ],
)
def test_bad_items_are_refused(http: httpx.Client, item: Any, status: int) -> None:
    error_of(respond(http, model="m", input=[item]), status)


def test_unknown_agent_version_and_response_are_404(http: httpx.Client) -> None:
    version(http, "known")
    error_of(respond(http, agent_reference={"type": "agent_reference", "name": "nobody"}), 404)
    reference = {"type": "agent_reference", "name": "known", "version": "9"}
    error_of(respond(http, agent_reference=reference), 404)
    error_of(respond(http, model="m", input="x", previous_response_id="resp_none"), 404)
    error_of(respond(http, model="m", input="x", conversation="conv_none"), 404)
    for method, path in [
        ("GET", "/openai/v1/responses/resp_none"),
        ("DELETE", "/openai/v1/responses/resp_none"),
        ("POST", "/openai/v1/responses/resp_none/cancel"),
        ("GET", "/openai/v1/responses/resp_none/input_items"),
        ("GET", "/openai/v1/conversations/conv_none"),
        ("GET", "/openai/v1/conversations/conv_none/items"),
        ("GET", "/agents/nobody"),
        ("GET", "/agents/known/versions/7"),
        ("GET", "/agents/known/versions/x"),
        ("DELETE", "/agents/nobody"),
    ]:
        error_of(http.request(method, path, params={"api-version": "v1"}), 404)


def test_an_agent_with_model_instructions_or_tools_of_the_request_is_refused(
    http: httpx.Client,
) -> None:
    version(http, "fixed")
    reference = {"type": "agent_reference", "name": "fixed"}
    for extra in ({"model": "other"}, {"instructions": "x"}, {"tools": [WEATHER]}):
        error_of(respond(http, agent_reference=reference, input="hi", **extra), 400)


def test_previous_response_and_conversation_together_are_400(http: httpx.Client) -> None:
    error = error_of(
        respond(http, model="m", input="x", previous_response_id="resp_a", conversation="conv_b"),
        400,
    )
    assert error["param"] == "previous_response_id"


def test_outputs_must_answer_exactly_the_calls_waiting(http: httpx.Client) -> None:
    first = respond(http, model="m", input="weather in Oslo", tools=[WEATHER]).json()
    (call,) = [o for o in first["output"] if o["type"] == "function_call"]
    # An output for a call nobody made.
    stray = {"type": "function_call_output", "call_id": "call_nobody", "output": "x"}
    error = error_of(respond(http, model="m", previous_response_id=first["id"], input=[stray]), 400)
    assert "call_nobody" in error["message"]
    # A new message that leaves the call unanswered.
    error = error_of(respond(http, model="m", previous_response_id=first["id"], input="hm"), 400)
    assert call["call_id"] in error["message"]
    # Answered properly it goes on; answered again (a retry of the same request) is refused.
    answer = {"type": "function_call_output", "call_id": call["call_id"], "output": "snow"}
    done = respond(
        http, model="m", previous_response_id=first["id"], input=[answer], tools=[WEATHER]
    )
    assert done.status_code == 200 and "snow" in done.json()["output"][0]["content"][0]["text"]
    error_of(respond(http, model="m", previous_response_id=first["id"], input=[answer]), 400)


def test_bad_agents_and_versions_are_refused(http: httpx.Client) -> None:
    v1 = {"api-version": "v1"}
    body = {"definition": {"kind": "prompt", "model": "m"}}
    error_of(http.post("/agents/bad name!/versions", params=v1, json=body), 400)
    error_of(http.post(f"/agents/{'x' * 64}/versions", params=v1, json=body), 400)
    error_of(http.post("/agents/-dash/versions", params=v1, json=body), 400)
    workflow = {"definition": {"kind": "workflow", "model": "m"}}
    assert (
        error_of(http.post("/agents/w/versions", params=v1, json=workflow), 400)["code"]
        == "not_supported"
    )
    error_of(
        http.post("/agents/w/versions", params=v1, json={"definition": {"kind": "prompt"}}), 400
    )
    tools = {"definition": {"kind": "prompt", "model": "m", "tools": [{"type": "web_search"}]}}
    assert (
        error_of(http.post("/agents/w/versions", params=v1, json=tools), 400)["code"]
        == "not_supported"
    )
    meta = {**body, "metadata": {str(i): "v" for i in range(17)}}
    error_of(http.post("/agents/w/versions", params=v1, json=meta), 400)
    version(http, "routed")
    for rules in (
        [{"type": "FixedRatio", "agent_version": "1", "traffic_percentage": 60}],
        [{"type": "FixedRatio", "agent_version": "5", "traffic_percentage": 100}],
        [{"type": "Weird", "agent_version": "1", "traffic_percentage": 100}],
        [],
    ):
        endpoint = {"version_selector": {"version_selection_rules": rules}}
        error_of(http.patch("/agents/routed", params=v1, json={"agent_endpoint": endpoint}), 400)
    assert http.get("/agents/routed", params=v1).json().get("agent_endpoint") is None


def test_cancelling_a_synchronous_response_or_replaying_its_stream_is_400(
    http: httpx.Client,
) -> None:
    done = respond(http, model="m", input="hi").json()
    error_of(http.post(f"/openai/v1/responses/{done['id']}/cancel"), 400)
    error_of(http.get(f"/openai/v1/responses/{done['id']}", params={"stream": "true"}), 400)
    error_of(http.get(f"/openai/v1/responses/{done['id']}", params={"stream": "maybe"}), 400)
    replay = {"stream": "true", "starting_after": "x"}
    error_of(http.get(f"/openai/v1/responses/{done['id']}", params=replay), 400)


def test_a_background_response_must_be_stored(http: httpx.Client) -> None:
    error_of(respond(http, model="m", input="x", background=True, store=False), 400)


def test_a_body_too_large_is_413(http: httpx.Client) -> None:
    big = json.dumps({"model": "m", "input": "x" * (5 * 1024 * 1024)}).encode()
    error = http.post("/openai/v1/responses", content=big)
    assert error.status_code == 413


def test_nothing_stored_changes_under_bad_requests(http: httpx.Client) -> None:
    conversation = http.post(
        "/openai/v1/conversations", json={"items": [{"role": "user", "content": "keep me"}]}
    ).json()
    before = http.get(f"/openai/v1/conversations/{conversation['id']}/items").json()
    for bad in (
        {"items": [{"role": "robot", "content": "x"}]},
        {"items": []},
        {"items": "nope"},
        {"items": [{"role": "user", "content": "fine"}, {"type": "no_such_item"}]},
    ):
        error_of(http.post(f"/openai/v1/conversations/{conversation['id']}/items", json=bad), 400)
    error_of(respond(http, model="m", conversation=conversation["id"], input=[{"x": 1}]), 400)
    after = http.get(f"/openai/v1/conversations/{conversation['id']}/items").json()
    assert after == before
    assert [i["content"][0]["text"] for i in after["data"]] == ["keep me"]
