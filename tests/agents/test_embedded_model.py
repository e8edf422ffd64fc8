"""The seed's scenario on the embedded model: `ferry start` with no model server configured
(`FERRY_FALLBACK_MODEL=local`, what users get by default), driven by the GA SDK over https.
The model decides to call the queue tool, the function answers over the queues, and the
streamed answer states the function's result."""

from __future__ import annotations

import json

import pytest
from azure.ai.agents.models import ListSortOrder, MessageRole

from tests.agents.conftest import StartFerry
from tests.agents.test_runs_ga import wait_for, weather_tool
from tests.agents.test_streaming import Collect
from tests.conftest import require_embedded_model

pytestmark = pytest.mark.slow

require_embedded_model()

LOCAL = {"FERRY_FALLBACK_MODEL": "local"}


def test_the_seed_scenario_streams_on_the_embedded_model(start_ferry: StartFerry) -> None:
    ferry = start_ferry(env=LOCAL)
    with ferry.agents() as client:
        agent = client.create_agent(
            model="gpt-4o-mini",
            name="azure-function-agent-get-weather",
            instructions=(
                "You are a helpful support agent. Answer the user's questions to the best "
                "of your ability."
            ),
            tools=weather_tool(ferry.queues_url).definitions,
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
        assert handler.statuses[-1] == "completed", handler.statuses
        streamed = "".join(handler.pieces)
        assert "Weather is 74 degrees and sunny in Seattle, WA" in streamed
        last = client.messages.get_last_message_text_by_role(thread.id, MessageRole.AGENT)
        assert last is not None and last.text.value == streamed
        [run] = list(client.runs.list(thread_id=thread.id))
        steps = list(
            client.run_steps.list(thread_id=thread.id, run_id=run.id, order=ListSortOrder.ASCENDING)
        )
        assert [s.type for s in steps] == ["tool_calls", "message_creation"]
        call = steps[0].step_details.tool_calls[0]
        assert call.function.name == "GetWeather"
        assert json.loads(call.function.arguments) == {"location": "Seattle, WA"}
        assert call["queue"]["status"] == "answered"


def test_a_question_needing_no_tool_is_answered_without_one(start_ferry: StartFerry) -> None:
    ferry = start_ferry(env=LOCAL)
    with ferry.agents() as client:
        agent = client.create_agent(
            model="gpt-4o-mini",
            name="a",
            instructions="You are a helpful support agent.",
            tools=weather_tool(ferry.queues_url).definitions,
        )
        thread = client.threads.create()
        client.messages.create(thread_id=thread.id, role="user", content="Say hello")
        run = client.runs.create(thread_id=thread.id, agent_id=agent.id)
        run = wait_for(client, thread.id, run.id, {"completed", "failed"}, timeout=60)
        assert run.status == "completed", run.last_error
        steps = list(client.run_steps.list(thread_id=thread.id, run_id=run.id))
        assert [s.type for s in steps] == ["message_creation"]
        assert run.usage.completion_tokens > 0
