"""OpenAPI tools and connected agents through the classic client (azure-ai-agents), on
SQLite and PostgreSQL: the spec's operations as the model's functions, calls over real HTTP
with each auth, the callee's errors told to the model; a connected agent's run on its own
thread, its answer as the call's output, cancellation passed down, nesting bounded."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from azure.ai.agents import AgentsClient
from azure.ai.agents.models import (
    ConnectedAgentTool,
    OpenApiAnonymousAuthDetails,
    OpenApiConnectionAuthDetails,
    OpenApiConnectionSecurityScheme,
    OpenApiManagedAuthDetails,
    OpenApiManagedSecurityScheme,
    OpenApiTool,
)
from azure.core.exceptions import HttpResponseError

from tests.agents.conftest import Ferry
from tests.fakes.openapi_server import FakeOpenApiServer, weather_spec

pytestmark = pytest.mark.slow


def _call(name: str, **arguments: Any) -> str:
    return f"call {name} " + json.dumps(arguments)


def _ask(client: AgentsClient, agent_id: str, text: str) -> tuple[Any, str]:
    thread = client.threads.create()
    client.messages.create(thread_id=thread.id, role="user", content=text)
    run = client.runs.create_and_process(
        thread_id=thread.id, agent_id=agent_id, polling_interval=0.2
    )
    answer = client.messages.get_last_message_text_by_role(thread_id=thread.id, role="assistant")
    return run, answer.text.value if answer else ""


def _steps(client: AgentsClient, run: Any) -> list[Any]:
    return [
        call
        for step in client.run_steps.list(thread_id=run.thread_id, run_id=run.id)
        if step.type == "tool_calls"
        for call in step.step_details.tool_calls
    ]


def test_openapi_operations_are_called(ferry: Ferry, api_server: FakeOpenApiServer) -> None:
    tool = OpenApiTool(
        name="weather",
        spec=weather_spec(api_server.base_url),
        description="Weather and orders",
        auth=OpenApiAnonymousAuthDetails(),
    )
    with ferry.agents() as client:
        agent = client.create_agent(model="gpt-4o-mini", name="api", tools=tool.definitions)
        run, answer = _ask(client, agent.id, _call("weather_getWeather", location="Oslo"))
        assert run.status == "completed"
        assert api_server.last().path == "/weather/Oslo"
        assert '"conditions":"sunny"' in answer
        (call,) = _steps(client, run)
        assert call["type"] == "openapi"
        assert call["openapi"]["name"] == "weather_getWeather"
        # The callee's error is the call's result, not a failed run.
        run, answer = _ask(client, agent.id, _call("weather_getWeather", location="Atlantis"))
        assert run.status == "completed" and "HTTP 404" in answer


def test_managed_identity_sends_ferrys_own_token(
    ferry: Ferry, api_server: FakeOpenApiServer
) -> None:
    scheme = OpenApiManagedSecurityScheme(audience="https://storage.azure.com")
    tool = OpenApiTool(
        name="me",
        spec=weather_spec(api_server.base_url),
        description="Who am I",
        auth=OpenApiManagedAuthDetails(security_scheme=scheme),
    )
    with ferry.agents() as client:
        agent = client.create_agent(model="gpt-4o-mini", name="mi", tools=tool.definitions)
        run, _ = _ask(client, agent.id, _call("me_getMe"))
    assert run.status == "completed"
    token = api_server.last().headers["authorization"].removeprefix("Bearer ")
    claims = json.loads(_b64(token.split(".")[1]))
    assert claims["aud"] == "https://storage.azure.com"


def test_connection_auth_sends_the_connections_key(
    ferry: Ferry, api_server: FakeOpenApiServer
) -> None:
    def tool(connection: str) -> OpenApiTool:
        scheme = OpenApiConnectionSecurityScheme(
            connection_id=f"/subscriptions/s/resourceGroups/g/connections/{connection}"
        )
        return OpenApiTool(
            name="keyed",
            spec=weather_spec(api_server.base_url),
            description="A secret",
            auth=OpenApiConnectionAuthDetails(security_scheme=scheme),
        )

    with ferry.agents() as client:
        agent = client.create_agent(
            model="gpt-4o-mini", name="key", tools=tool("weather-key").definitions
        )
        run, answer = _ask(client, agent.id, _call("keyed_getSecret"))
        assert run.status == "completed" and "the header key worked" in answer
        # A connection Ferry has no key for: the model hears which variable to set.
        agent = client.create_agent(
            model="gpt-4o-mini", name="nokey", tools=tool("unknown").definitions
        )
        run, answer = _ask(client, agent.id, _call("keyed_getSecret"))
        assert run.status == "completed" and "FERRY_CONNECTION_UNKNOWN" in answer


def _b64(part: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def test_a_bad_spec_is_refused_when_the_agent_is_made(ferry: Ferry) -> None:
    tool = OpenApiTool(
        name="bad",
        spec={"openapi": "3.0.0", "info": {"title": "t", "version": "1"}, "paths": {}},
        description="no servers, no operations",
        auth=OpenApiAnonymousAuthDetails(),
    )
    with ferry.agents() as client, pytest.raises(HttpResponseError) as refused:
        client.create_agent(model="gpt-4o-mini", name="bad", tools=tool.definitions)
    assert refused.value.status_code == 400


def test_a_connected_agent_answers_on_a_thread_of_its_own(ferry: Ferry) -> None:
    with ferry.agents() as client:
        helper = client.create_agent(model="gpt-4o-mini", name="echo", instructions="Echo.")
        connected = ConnectedAgentTool(id=helper.id, name="echo", description="Repeats things")
        boss = client.create_agent(model="gpt-4o-mini", name="boss", tools=connected.definitions)
        run, answer = _ask(client, boss.id, _call("echo", input="ping"))
        assert run.status == "completed"
        assert answer == "echo says: You said: ping"
        (call,) = _steps(client, run)
        assert call["type"] == "connected_agent"
        child = call["connected_agent"]
        # The child's run is an ordinary run, on its own thread, naming its parent.
        child_run = client.runs.get(thread_id=child["thread_id"], run_id=child["run_id"])
        assert child_run.status == "completed"
        assert child_run.metadata["ferry.parent_run"] == run.id


def test_agents_that_call_each_other_stop_at_the_depth_limit(ferry: Ferry) -> None:
    with ferry.agents() as client:
        agent = client.create_agent(model="gpt-4o-mini", name="self")
        connected = ConnectedAgentTool(id=agent.id, name="again", description="Asks itself")
        client.update_agent(agent.id, tools=connected.definitions)
        task = "x"
        for _ in range(5):  # each level asks the next to go one deeper
            task = _call("again", input=task)
        run, answer = _ask(client, agent.id, task)
    assert run.status == "completed"
    assert "connected agents may be nested 3 deep at most" in answer


def test_cancelling_the_parent_cancels_the_child(ferry: Ferry) -> None:
    code = _call("code_interpreter", code="import time\ntime.sleep(30)")
    with ferry.agents() as client:
        sleeper = client.create_agent(
            model="gpt-4o-mini", name="sleeper", tools=[{"type": "code_interpreter"}]
        )
        connected = ConnectedAgentTool(id=sleeper.id, name="sleeper", description="Sleeps")
        boss = client.create_agent(model="gpt-4o-mini", name="boss2", tools=connected.definitions)
        thread = client.threads.create()
        client.messages.create(
            thread_id=thread.id, role="user", content=_call("sleeper", input=code)
        )
        run = client.runs.create(thread_id=thread.id, agent_id=boss.id)
        child = None
        deadline = time.monotonic() + 30
        while child is None and time.monotonic() < deadline:
            time.sleep(0.2)
            children = [t for t in client.threads.list() if t.id != thread.id]
            for other in children:
                for made in client.runs.list(thread_id=other.id):
                    if (made.metadata or {}).get("ferry.parent_run") == run.id:
                        child = made
        assert child is not None
        client.runs.cancel(thread_id=thread.id, run_id=run.id)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            parent = client.runs.get(thread_id=thread.id, run_id=run.id)
            below = client.runs.get(thread_id=child.thread_id, run_id=child.id)
            if parent.status == "cancelled" and below.status == "cancelled":
                break
            time.sleep(0.2)
        assert (parent.status, below.status) == ("cancelled", "cancelled")


def test_connections_are_the_keys_in_ferrys_environment(ferry: Ferry) -> None:
    from azure.ai.projects import AIProjectClient
    from azure.core.exceptions import ResourceNotFoundError

    from tests.agents.conftest import FerryCredential

    with AIProjectClient(
        ferry.endpoint(), FerryCredential(ferry.data), connection_verify=str(ferry.ca)
    ) as project:
        found = project.connections.get("weather-key")
        assert found.id.endswith("/connections/weather-key") and found.name == "weather-key"
        assert "weather-key" in [c.name for c in project.connections.list()]
        with pytest.raises(ResourceNotFoundError, match="FERRY_CONNECTION_NOPE"):
            project.connections.get("nope")
