"""One connected trace of the weather scenario, classic and v2, received by a real OTLP/HTTP
receiver from a real `ferry start`: run, model calls, tool call, function invocation."""

from __future__ import annotations

import gzip
import http.server
import json
import ssl
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from azure.ai.projects.models import PromptAgentDefinition
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from ferry import tracing
from tests.agents.conftest import Ferry, StartFerry
from tests.agents.test_runs_ga import wait_for, weather_tool
from tests.agents.v2.test_both_apis import projects, v2_weather

# Integration: a real receiver ----------------------------------------------------------------


class Receiver:
    """An OTLP/HTTP trace receiver on a loopback port: it keeps every span it is sent."""

    def __init__(self) -> None:
        self.spans: list[Any] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path != "/v1/traces":
                    self.send_response(404)
                    self.end_headers()
                    return
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                with receiver.lock:
                    for resource in request.resource_spans:
                        for scope in resource.scope_spans:
                            receiver.spans.extend(scope.spans)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def named(self, prefix: str) -> list[Any]:
        with self.lock:
            return [s for s in self.spans if s.name.startswith(prefix)]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    yield made
    made.server.shutdown()
    made.server.server_close()


def traced(start_ferry: StartFerry, receiver: Receiver, **more: str) -> Ferry:
    """`ferry start` exporting to `receiver`, every 100 ms."""
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url, "OTEL_BSP_SCHEDULE_DELAY": "100"}
    return start_ferry(env={**env, **more})


def _attributes(span: Any) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for pair in span.attributes:
        value = pair.value
        found[pair.key] = value.string_value or value.int_value
    return found


def _wait(receiver: Receiver, names: list[str], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not all(receiver.named(name) for name in names):
        assert time.monotonic() < deadline, f"spans received: {[s.name for s in receiver.spans]}"
        time.sleep(0.1)


def _one_trace(receiver: Receiver, client_trace: int, client_span: int) -> tuple[Any, ...]:
    """The run's spans, checked to be one trace under the client's span: (invoke_agent,
    execute_tool, the chats, the function's invocation)."""
    _wait(receiver, ["invoke_agent", "execute_tool", "chat"])
    [invoke] = receiver.named("invoke_agent")
    [tool] = receiver.named("execute_tool")
    chats = receiver.named("chat")
    invocations = [s for s in receiver.spans if _attributes(s).get("faas.trigger") == "pubsub"]
    assert len(chats) == 2 and len(invocations) == 1
    [invocation] = invocations

    # One trace, the client's, and every hop under the run.
    for span in [invoke, tool, *chats, invocation]:
        assert int.from_bytes(span.trace_id, "big") == client_trace, span.name
    assert int.from_bytes(invoke.parent_span_id, "big") == client_span
    for span in [tool, *chats]:
        assert span.parent_span_id == invoke.span_id, span.name
    # The function's invocation, in the functions host, is the tool call's child.
    assert invocation.parent_span_id == tool.span_id

    return invoke, tool, chats, invocation


def test_the_weather_scenario_is_one_trace_across_every_hop(
    start_ferry: StartFerry, receiver: Receiver
) -> None:
    ferry = traced(start_ferry, receiver)
    client_trace, client_span = 0x4BF92F3577B34DA6A3CE929D0E0E4736, 0x00F067AA0BA902B7
    traceparent = tracing.format_traceparent(client_trace, client_span)
    with ferry.agents() as client:
        agent = client.create_agent(
            model="gpt-4o-mini",
            name="weather-agent",
            instructions="You are a helpful support agent.",
            tools=weather_tool(ferry.queues_url).definitions,
        )
        thread = client.threads.create()
        client.messages.create(thread_id=thread.id, role="user", content="Weather in Oslo?")
        run = client.runs.create(
            thread_id=thread.id, agent_id=agent.id, headers={"traceparent": traceparent}
        )
        run = wait_for(client, thread.id, run.id, {"completed", "failed", "expired"})
        assert run.status == "completed", run.last_error
    invoke, tool, chats, invocation = _one_trace(receiver, client_trace, client_span)
    run_attributes = _attributes(invoke)
    assert invoke.name == "invoke_agent weather-agent"
    assert run_attributes["gen_ai.operation.name"] == "invoke_agent"
    assert run_attributes["gen_ai.agent.id"] == agent.id
    assert run_attributes["gen_ai.conversation.id"] == thread.id
    assert run_attributes["ferry.run.status"] == "completed"
    tool_attributes = _attributes(tool)
    assert tool.name == "execute_tool GetWeather"
    assert tool_attributes["gen_ai.tool.call.id"]
    assert tool_attributes["messaging.message.correlation_id"]
    assert _attributes(chats[0])["gen_ai.request.model"] == "gpt-4o-mini"
    assert not any("gen_ai.input.messages" in _attributes(chat) for chat in chats)  # not asked
    assert _attributes(invocation)["messaging.destination.name"] == "input"
    # Times nest: the tool call within the run, the invocation within the tool call.
    assert invoke.start_time_unix_nano <= tool.start_time_unix_nano
    assert tool.end_time_unix_nano <= invoke.end_time_unix_nano
    assert tool.start_time_unix_nano <= invocation.start_time_unix_nano


def test_a_v2_response_is_one_trace_too(start_ferry: StartFerry, receiver: Receiver) -> None:
    ferry = traced(start_ferry, receiver)
    client_trace, client_span = 0x5BF92F3577B34DA6A3CE929D0E0E4737, 0x01F067AA0BA902B8
    traceparent = tracing.format_traceparent(client_trace, client_span)
    with projects(ferry) as project:
        version = project.agents.create_version(
            agent_name="v2-weather",
            definition=PromptAgentDefinition(
                model="gpt-4o-mini", tools=[v2_weather(ferry.queues_url)]
            ),
        )
        verify = ssl.create_default_context(cafile=str(ferry.ca))
        with project.get_openai_client(http_client=httpx.Client(verify=verify)) as openai:
            response = openai.responses.create(
                input="What is the weather in Lima?",
                extra_body={"agent_reference": {"type": "agent_reference", "name": version.name}},
                extra_headers={"traceparent": traceparent},
            )
    assert response.status == "completed", response.error
    invoke, tool, chats, invocation = _one_trace(receiver, client_trace, client_span)
    attributes = _attributes(invoke)
    assert invoke.name == "invoke_agent v2-weather"
    assert attributes["gen_ai.agent.name"] == "v2-weather"
    assert attributes["gen_ai.agent.version"] == version.version
    assert attributes["ferry.run.id"] == response.id


def test_message_content_is_recorded_only_when_asked_for(
    start_ferry: StartFerry, receiver: Receiver
) -> None:
    """With the GenAI opt-in, each chat span carries what the model was sent and said: the
    user's question, the tool call it chose, then the function's answer."""
    ferry = traced(start_ferry, receiver, OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="true")
    with ferry.agents() as client:
        agent = client.create_agent(
            model="gpt-4o-mini", name="said", tools=weather_tool(ferry.queues_url).definitions
        )
        thread = client.threads.create()
        client.messages.create(thread_id=thread.id, role="user", content="Weather in Oslo?")
        run = client.runs.create(thread_id=thread.id, agent_id=agent.id)
        run = wait_for(client, thread.id, run.id, {"completed", "failed", "expired"})
        assert run.status == "completed", run.last_error
    _wait(receiver, ["chat", "invoke_agent"])
    first, second = sorted(receiver.named("chat"), key=lambda span: span.start_time_unix_nano)
    asked = json.loads(_attributes(first)["gen_ai.input.messages"])
    assert {"type": "text", "content": "Weather in Oslo?"} in asked[-1]["parts"]
    chose = json.loads(_attributes(first)["gen_ai.output.messages"])
    assert chose[0]["role"] == "assistant" and chose[0]["finish_reason"]
    [call] = [part for part in chose[0]["parts"] if part["type"] == "tool_call"]
    assert call["name"] == "GetWeather" and "Oslo" in call["arguments"]
    answered = json.loads(_attributes(second)["gen_ai.input.messages"])
    [response] = [
        part
        for message in answered
        for part in message["parts"]
        if part["type"] == "tool_call_response"
    ]
    assert response["id"] == call["id"] and "Oslo" in response["response"]
    said = json.loads(_attributes(second)["gen_ai.output.messages"])
    assert "Oslo" in said[0]["parts"][0]["content"]
