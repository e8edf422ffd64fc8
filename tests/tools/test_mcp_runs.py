"""MCP tools through the Responses API (the openai client), on SQLite and PostgreSQL, against
real MCP servers over both transports: listing, approvals answered in the next response,
refusals, the server's errors and timeouts told to the model. (The classic API's approvals
are the official samples' part: tests/agents/test_tool_samples.py.)"""

from __future__ import annotations

import json
import socket
import ssl
from typing import Any

import httpx2
import pytest
from openai import OpenAI

from tests.agents.conftest import Ferry
from tests.fakes.mcp_server import McpTestServer

pytestmark = pytest.mark.slow


def _client(ferry: Ferry) -> OpenAI:
    verify = ssl.create_default_context(cafile=str(ferry.ca))
    return OpenAI(
        base_url=f"{ferry.endpoint()}/openai/v1",
        api_key=ferry.token(),
        http_client=httpx2.Client(verify=verify),
        max_retries=0,
    )


def _call(name: str, **arguments: Any) -> str:
    return f"call {name} " + json.dumps(arguments)


def _mcp(server: McpTestServer, **options: Any) -> Any:
    return [{"type": "mcp", "server_label": "local", "server_url": server.url, **options}]


@pytest.mark.parametrize("transport", ["streamable_http", "sse"])
def test_a_call_without_approval(
    ferry: Ferry, mcp_server: McpTestServer, sse_server: McpTestServer, transport: str
) -> None:
    server = mcp_server if transport == "streamable_http" else sse_server
    with _client(ferry) as client:
        response = client.responses.create(
            model="gpt-4o-mini",
            input=_call("add", a=2, b=3),
            tools=_mcp(server, require_approval="never", allowed_tools=["add", "whoami"]),
        )
    listed, call, message = response.output
    assert listed.type == "mcp_list_tools"
    assert sorted(t.name for t in listed.tools) == ["add", "whoami"]
    assert call.type == "mcp_call"
    assert (call.name, json.loads(call.arguments), call.output) == ("add", {"a": 2, "b": 3}, "5")
    assert message.type == "message"
    assert response.output_text == "add says: 5"
    assert ("add", {"a": 2, "b": 3}) in server.calls


def test_approval_is_asked_and_given_in_the_next_response(
    ferry: Ferry, mcp_server: McpTestServer
) -> None:
    tools = _mcp(mcp_server, headers={"Authorization": "Bearer letmein"})
    before = len(mcp_server.calls)
    with _client(ferry) as client:
        asked = client.responses.create(model="gpt-4o-mini", input=_call("whoami"), tools=tools)
        request = asked.output[-1]
        assert request.type == "mcp_approval_request"
        assert (request.server_label, request.name) == ("local", "whoami")
        assert mcp_server.calls[before:] == []  # nothing sent yet
        answered = client.responses.create(
            model="gpt-4o-mini",
            previous_response_id=asked.id,
            tools=tools,
            input=[
                {
                    "type": "mcp_approval_response",
                    "approval_request_id": request.id,
                    "approve": True,
                }
            ],
        )
    call, message = answered.output
    assert call.type == "mcp_call" and call.output == "Bearer letmein"
    assert answered.output_text == "whoami says: Bearer letmein"


def test_a_project_connection_gives_the_servers_token(
    ferry: Ferry, mcp_server: McpTestServer
) -> None:
    tools = _mcp(mcp_server, require_approval="never", project_connection_id="local-mcp")
    missing = _mcp(mcp_server, require_approval="never", project_connection_id="nowhere")
    with _client(ferry) as client:
        response = client.responses.create(model="gpt-4o-mini", input=_call("whoami"), tools=tools)
        unknown = client.responses.create(model="gpt-4o-mini", input="hi", tools=missing)
    assert response.output_text == "whoami says: Bearer mcp-s3cret"
    listed = unknown.output[0]
    assert listed.type == "mcp_list_tools" and "FERRY_CONNECTION_NOWHERE" in str(listed.error)


def test_a_refused_call_is_not_made_and_the_model_hears_why(
    ferry: Ferry, mcp_server: McpTestServer
) -> None:
    before = len(mcp_server.calls)
    with _client(ferry) as client:
        conversation = client.conversations.create()
        asked = client.responses.create(
            model="gpt-4o-mini",
            input=_call("add", a=1, b=1),
            tools=_mcp(mcp_server),
            conversation=conversation.id,
        )
        request = asked.output[-1]
        refused = client.responses.create(
            model="gpt-4o-mini",
            tools=_mcp(mcp_server),
            conversation=conversation.id,
            input=[
                {
                    "type": "mcp_approval_response",
                    "approval_request_id": request.id,
                    "approve": False,
                }
            ],
        )
    assert len(mcp_server.calls) == before
    call = refused.output[0]
    assert call.type == "mcp_call" and call.error
    assert "did not approve" in refused.output_text


def test_an_answered_request_cannot_be_answered_again(
    ferry: Ferry, mcp_server: McpTestServer
) -> None:
    import openai

    with _client(ferry) as client:
        asked = client.responses.create(
            model="gpt-4o-mini", input=_call("add", a=1, b=2), tools=_mcp(mcp_server)
        )
        approval = {
            "type": "mcp_approval_response",
            "approval_request_id": asked.output[-1].id,
            "approve": True,
        }
        client.responses.create(
            model="gpt-4o-mini", previous_response_id=asked.id, input=[approval]
        )
        with pytest.raises(openai.BadRequestError, match="approval request"):
            client.responses.create(
                model="gpt-4o-mini", previous_response_id=asked.id, input=[approval]
            )


def test_the_servers_errors_and_slowness_are_told_to_the_model(
    ferry: Ferry, mcp_server: McpTestServer
) -> None:
    tools = _mcp(mcp_server, require_approval="never", timeout=1)
    with _client(ferry) as client:
        failed = client.responses.create(
            model="gpt-4o-mini", input=_call("fail", message="boom"), tools=tools
        )
        slow = client.responses.create(
            model="gpt-4o-mini", input=_call("slow", seconds=4), tools=tools
        )
    assert failed.status == "completed" and "boom" in (failed.output[1].error or "")
    assert slow.status == "completed"
    assert "1" in (slow.output[1].error or "") and "slow says: Error" in slow.output_text


def test_a_server_that_cannot_be_reached_leaves_the_run_without_its_tools(ferry: Ferry) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    tools = [{"type": "mcp", "server_label": "gone", "server_url": f"http://127.0.0.1:{port}/mcp"}]
    with _client(ferry) as client:
        response = client.responses.create(model="gpt-4o-mini", input="hello", tools=tools)
    listed, message = response.output
    assert listed.type == "mcp_list_tools" and listed.error
    assert response.status == "completed" and response.output_text == "You said: hello"


def test_bad_mcp_tools_are_refused(ferry: Ferry) -> None:
    import openai

    bad: list[Any] = [
        {"type": "mcp", "server_url": "http://127.0.0.1:1/mcp"},
        {"type": "mcp", "server_label": "x", "server_url": "ftp://nowhere"},
        {"type": "mcp", "server_label": "x", "server_url": "http://h/", "require_approval": 3},
        {"type": "mcp", "server_label": "x", "server_url": "http://h/", "headers": {"a": 1}},
        {"type": "mcp", "server_label": "x", "server_url": "http://h/", "timeout": -1},
    ]
    with _client(ferry) as client:
        for tool in bad:
            with pytest.raises(openai.BadRequestError):
                client.responses.create(model="gpt-4o-mini", input="hi", tools=[tool])
