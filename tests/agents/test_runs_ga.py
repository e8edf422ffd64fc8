"""Runs driven by the GA SDK (azure-ai-agents 1.1.0) against a real `ferry start`: plain
answers, client-side function tools, and `azure_function` tools carried over Ferry's queues
to a real function app and back."""

from __future__ import annotations

import json
import time

import pytest
from azure.ai.agents.models import (
    AzureFunctionStorageQueue,
    AzureFunctionTool,
    FunctionTool,
    ListSortOrder,
    MessageRole,
    RunStatus,
    ToolOutput,
)
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from tests.agents.conftest import StartFerry


def wait_for(client, thread_id: str, run_id: str, statuses: set[str], timeout: float = 20):
    deadline = time.monotonic() + timeout
    while True:
        run = client.runs.get(thread_id=thread_id, run_id=run_id)
        if run.status in statuses:
            return run
        assert time.monotonic() < deadline, f"run stayed {run.status}: {run.last_error}"
        time.sleep(0.05)


def weather_tool(
    queues_url: str, input_queue: str = "input", output_queue: str = "output"
) -> AzureFunctionTool:
    """The seed's GetWeather tool, carried over the named queues."""
    return AzureFunctionTool(
        name="GetWeather",
        description="Get the weather in a location.",
        parameters={
            "type": "object",
            "properties": {"location": {"type": "string"}},
            "required": ["location"],
        },
        input_queue=AzureFunctionStorageQueue(
            queue_name=input_queue, storage_service_endpoint=queues_url
        ),
        output_queue=AzureFunctionStorageQueue(
            queue_name=output_queue, storage_service_endpoint=queues_url
        ),
    )


def test_seed_scenario_over_queues(start_ferry: StartFerry) -> None:
    ferry = start_ferry()
    with ferry.agents() as client:
        agent = client.create_agent(
            model="gpt-4o-mini",
            name="azure-function-agent-get-weather",
            instructions="You are a helpful support agent.",
            tools=weather_tool(ferry.queues_url).definitions,
        )
        thread = client.threads.create()
        client.messages.create(
            thread_id=thread.id, role="user", content="What is the weather in Seattle, WA?"
        )
        run = client.runs.create(thread_id=thread.id, agent_id=agent.id)
        assert run.status == RunStatus.QUEUED
        run = wait_for(client, thread.id, run.id, {"completed", "failed", "expired"})
        assert run.status == RunStatus.COMPLETED, run.last_error
        messages = list(client.messages.list(thread_id=thread.id))
        assert messages[0].role == MessageRole.AGENT
        last = client.messages.get_last_message_text_by_role(thread.id, MessageRole.AGENT)
        assert last is not None
        assert "74 degrees and sunny in Seattle, WA" in last.text.value
        steps = list(
            client.run_steps.list(thread_id=thread.id, run_id=run.id, order=ListSortOrder.ASCENDING)
        )
        assert [s.type for s in steps] == ["tool_calls", "message_creation"]
        call = steps[0].step_details.tool_calls[0]
        assert call.function.name == "GetWeather"
        assert json.loads(call.function.arguments) == {"location": "Seattle, WA"}
        assert "74 degrees" in call.function["output"]
        assert call["queue"]["status"] == "answered"
        assert call["queue"]["correlation_id"]
        client.delete_agent(agent.id)


def test_tool_timeout_fails_the_run_with_a_reason(start_ferry: StartFerry) -> None:
    ferry = start_ferry()
    with ferry.agents() as client:
        agent = client.create_agent(
            model="gpt-4o-mini",
            name="slow",
            tools=weather_tool(ferry.queues_url).definitions,
            metadata={"ferry_tool_timeout": "1"},
        )
        thread = client.threads.create()
        client.messages.create(thread_id=thread.id, role="user", content="weather in nowhere")
        run = client.runs.create(thread_id=thread.id, agent_id=agent.id)
        run = wait_for(client, thread.id, run.id, {"completed", "failed"})
        assert run.status == RunStatus.FAILED
        assert run.last_error["code"] == "tool_timeout"
        assert "GetWeather" in run.last_error["message"]
        assert "output" in run.last_error["message"]


def test_function_tool_requires_action_then_completes(start_ferry: StartFerry) -> None:
    ferry = start_ferry()

    def lookup(city: str) -> str:
        """Look a city up.

        :param city: the city.
        """
        return city

    with ferry.agents() as client:
        agent = client.create_agent(
            model="any", name="fn", tools=FunctionTool({lookup}).definitions
        )
        thread = client.threads.create()
        client.messages.create(
            thread_id=thread.id, role="user", content='call lookup {"city": "Oslo"}'
        )
        run = client.runs.create(thread_id=thread.id, agent_id=agent.id)
        run = wait_for(client, thread.id, run.id, {"requires_action", "failed"})
        assert run.status == RunStatus.REQUIRES_ACTION
        calls = run.required_action.submit_tool_outputs.tool_calls
        assert [c.function.name for c in calls] == ["lookup"]
        with pytest.raises(HttpResponseError) as refused:
            client.runs.submit_tool_outputs(
                thread_id=thread.id,
                run_id=run.id,
                tool_outputs=[ToolOutput(tool_call_id="call_wrong", output="x")],
            )
        assert refused.value.status_code == 400
        client.runs.submit_tool_outputs(
            thread_id=thread.id,
            run_id=run.id,
            tool_outputs=[ToolOutput(tool_call_id=calls[0].id, output="Oslo is sunny")],
        )
        run = wait_for(client, thread.id, run.id, {"completed", "failed"})
        assert run.status == RunStatus.COMPLETED, run.last_error
        text = client.messages.get_last_message_text_by_role(thread.id, MessageRole.AGENT)
        assert "Oslo is sunny" in text.text.value


def test_projects_are_isolated_and_unknown_ids_are_404(start_ferry: StartFerry) -> None:
    ferry = start_ferry(command="serve")
    with ferry.agents("one") as one, ferry.agents("two") as two:
        agent = one.create_agent(model="m", name="mine")
        assert one.get_agent(agent.id).name == "mine"
        with pytest.raises(ResourceNotFoundError):
            two.get_agent(agent.id)
        assert [a.id for a in one.list_agents()] == [agent.id]
        assert list(two.list_agents()) == []


def test_list_paging_follows_last_id(start_ferry: StartFerry) -> None:
    ferry = start_ferry(command="serve")
    with ferry.agents() as client:
        created = [client.create_agent(model="m", name=f"a{i}").id for i in range(45)]
        listed = [a.id for a in client.list_agents(limit=7)]
        assert listed == list(reversed(created))
        ascending = [a.id for a in client.list_agents(limit=10, order=ListSortOrder.ASCENDING)]
        assert ascending == created


def test_cancel_a_waiting_run(start_ferry: StartFerry) -> None:
    ferry = start_ferry()
    with ferry.agents() as client:
        agent = client.create_agent(
            model="m", name="slow", tools=weather_tool(ferry.queues_url).definitions
        )
        thread = client.threads.create()
        client.messages.create(thread_id=thread.id, role="user", content="weather in nowhere")
        run = client.runs.create(thread_id=thread.id, agent_id=agent.id)
        wait_for(client, thread.id, run.id, {"in_progress"})
        client.runs.cancel(thread_id=thread.id, run_id=run.id)
        run = wait_for(client, thread.id, run.id, {"cancelled"})
        assert run.cancelled_at is not None
        with pytest.raises(HttpResponseError) as again:
            client.runs.cancel(thread_id=thread.id, run_id=run.id)
        assert again.value.status_code == 400
