"""Background responses are worked durably: kill -9 of the process working one while its
`azure_function` call waits on the queues, then a restart on the same store, and the response
takes the answer that came meanwhile and completes exactly once; its stream replays from the
start without a gap; a background response can be cancelled while it waits. On SQLite and on
PostgreSQL."""

from __future__ import annotations

import contextlib
import json
import ssl
from pathlib import Path
from typing import Any

import httpx2
import pytest
from azure.core.exceptions import ResourceExistsError
from openai import OpenAI

from ferry.spawn import Child, spawn
from tests.agents.conftest import Ferry
from tests.agents.test_durability import _queue, _take_call
from tests.agents.v2.conftest import store_args
from tests.conftest import BACKENDS

pytestmark = [
    pytest.mark.slow,
    # The openai client's stream helper knows no `azure_function` tool type; it warns while
    # copying the response's `tools`.
    pytest.mark.filterwarnings("ignore:Pydantic serializer warnings:UserWarning"),
]


def weather(queues_url: str) -> dict[str, Any]:
    def side(name: str) -> dict[str, Any]:
        return {
            "type": "storage_queue",
            "storage_queue": {"queue_service_endpoint": queues_url, "queue_name": name},
        }

    return {
        "type": "azure_function",
        "azure_function": {
            "function": {
                "name": "GetWeather",
                "description": "Weather in a location.",
                "parameters": {
                    "type": "object",
                    "properties": {"location": {"type": "string"}},
                    "required": ["location"],
                },
            },
            "input_binding": side("input"),
            "output_binding": side("output"),
        },
    }


def openai_client(child: Child, data: Path) -> OpenAI:
    ferry = Ferry(child, data)
    return OpenAI(
        base_url=f"{ferry.endpoint()}/openai/v1",
        api_key=ferry.token(),
        http_client=httpx2.Client(verify=ssl.create_default_context(cafile=str(ferry.ca))),
        max_retries=0,
    )


def answer(queues_url: str, call: dict[str, Any], value: str, times: int = 1) -> None:
    output = _queue(queues_url, "output")
    with contextlib.suppress(ResourceExistsError):
        output.create_queue()
    for _ in range(times):
        output.send_message(
            json.dumps({"Value": value, "CorrelationId": call["CorrelationId"]}).encode()
        )


def ask_weather(client: OpenAI, queues_url: str, city: str) -> tuple[Any, dict[str, Any]]:
    """A background response asking the weather in `city`, and the call it put on the input
    queue (taken off it, as a function would)."""
    started = client.responses.create(
        model="m",
        input=f"What is the weather in {city}?",
        tools=[weather(queues_url)],  # type: ignore[list-item]
        background=True,
    )
    return started, _take_call(_queue(queues_url, "input"))


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_background_response_survives_kill_9(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    extra = store_args(backend, request)
    data = tmp_path / "data"
    queues = spawn(["serve", "queues", "--port", "0", *extra], data)
    env = {"FERRY_RUN_LEASE": "1"}
    agents = spawn(["serve", "agents", "--port", "0", *extra], data, env=env)
    try:
        queues_url = queues.url("queues")
        with openai_client(agents, data) as client:
            started, call = ask_weather(client, queues_url, "Oslo")
            assert call["function_args"] == {"location": "Oslo"} and call["location"] == "Oslo"
        agents.kill()
        answer(queues_url, call, "Oslo: 12 degrees", times=2)  # a duplicate: ignored

        agents = spawn(["serve", "agents", "--port", "0", *extra], data, env=env)
        with openai_client(agents, data) as client:
            with client.responses.stream(response_id=started.id) as stream:
                numbers = [event.sequence_number for event in stream]
                final = stream.get_final_response()
            assert final.status == "completed"
            assert "Oslo: 12 degrees" in final.output_text
            kinds = [item.type for item in final.output]
            assert kinds == ["azure_function_call", "azure_function_call_output", "message"]
            assert numbers == list(range(len(numbers)))
            assert client.responses.retrieve(started.id).output_text == final.output_text
    finally:
        agents.kill()
        queues.kill()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_waiting_background_response_can_be_cancelled(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    extra = store_args(backend, request)
    data = tmp_path / "data"
    queues = spawn(["serve", "queues", "--port", "0", *extra], data)
    agents = spawn(["serve", "agents", "--port", "0", *extra], data)
    try:
        queues_url = queues.url("queues")
        with openai_client(agents, data) as client:
            started, call = ask_weather(client, queues_url, "Lima")
            cancelled = client.responses.cancel(started.id)
            assert cancelled.status == "cancelled"
            answer(queues_url, call, "too late")
            again = client.responses.retrieve(started.id)
            assert again.status == "cancelled" and again.output_text == ""
            with client.responses.stream(response_id=started.id) as stream:
                last = [event.type for event in stream][-1]
            assert last == "response.failed"
    finally:
        agents.kill()
        queues.kill()
