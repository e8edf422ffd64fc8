"""Both API generations at once on one store: the classic client (azure-ai-agents) and the 2.x
client (azure-ai-projects 2.10 and the openai client it returns) run the weather scenario side
by side against one `ferry start`, through the same queues and the same function app, and each
sees only its own generation's objects."""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import httpx2
from azure.ai.agents.models import MessageRole
from azure.ai.projects import AIProjectClient
from azure.ai.projects.models import (
    AzureFunctionBinding,
    AzureFunctionDefinition,
    AzureFunctionDefinitionFunction,
    AzureFunctionStorageQueue,
    AzureFunctionTool,
    PromptAgentDefinition,
)

from tests.agents.conftest import Ferry, FerryCredential, StartFerry
from tests.agents.test_runs_ga import wait_for, weather_tool

CITIES = ["Seattle, WA", "Oslo", "Lima", "Kyoto", "Accra", "Quito"]


def v2_weather(queues_url: str) -> AzureFunctionTool:
    def queue(name: str) -> AzureFunctionBinding:
        return AzureFunctionBinding(
            storage_queue=AzureFunctionStorageQueue(
                queue_name=name, queue_service_endpoint=queues_url
            )
        )

    return AzureFunctionTool(
        azure_function=AzureFunctionDefinition(
            function=AzureFunctionDefinitionFunction(
                name="GetWeather",
                description="Get the weather in a location.",
                parameters={
                    "type": "object",
                    "properties": {"location": {"type": "string"}},
                    "required": ["location"],
                },
            ),
            input_binding=queue("input"),
            output_binding=queue("output"),
        )
    )


def projects(ferry: Ferry) -> AIProjectClient:
    return AIProjectClient(
        endpoint=ferry.endpoint("both"),
        credential=FerryCredential(ferry.data),
        connection_verify=str(ferry.ca),
    )


def ask_classic(ferry: Ferry, agent_id: str, city: str) -> tuple[str, str]:
    with ferry.agents("both") as client:
        thread = client.threads.create()
        client.messages.create(
            thread_id=thread.id, role="user", content=f"What is the weather in {city}?"
        )
        run = client.runs.create(thread_id=thread.id, agent_id=agent_id)
        run = wait_for(client, thread.id, run.id, {"completed", "failed"}, timeout=30)
        assert run.status == "completed", run.last_error
        last = client.messages.get_last_message_text_by_role(thread.id, MessageRole.AGENT)
        assert last is not None
        return str(last.text.value), run.id


def ask_v2(ferry: Ferry, name: str, city: str) -> tuple[str, str]:
    verify = ssl.create_default_context(cafile=str(ferry.ca))
    with (
        projects(ferry) as project,
        project.get_openai_client(http_client=httpx2.Client(verify=verify)) as openai,
    ):
        response = openai.responses.create(
            input=f"What is the weather in {city}?",
            extra_body={"agent_reference": {"type": "agent_reference", "name": name}},
        )
        assert response.status == "completed", response.error
        return response.output_text, response.id


def test_classic_and_v2_clients_at_once(start_ferry: StartFerry) -> None:
    ferry = start_ferry()
    with ferry.agents("both") as classic:
        assistant = classic.create_agent(
            model="gpt-4o-mini",
            name="classic-weather",
            tools=weather_tool(ferry.queues_url).definitions,
        )
    with projects(ferry) as project:
        version = project.agents.create_version(
            agent_name="v2-weather",
            definition=PromptAgentDefinition(
                model="gpt-4o-mini", tools=[v2_weather(ferry.queues_url)]
            ),
        )
    with ThreadPoolExecutor(max_workers=len(CITIES) * 2) as pool:
        classic_answers = pool.map(lambda c: ask_classic(ferry, assistant.id, c), CITIES)
        v2_answers = pool.map(lambda c: ask_v2(ferry, version.name, c), CITIES)
        for city, one, other in zip(CITIES, classic_answers, v2_answers, strict=True):
            assert f"74 degrees and sunny in {city}" in one[0]
            assert f"74 degrees and sunny in {city}" in other[0]
            ran = [one[1], other[1]]

    # `ferry runs show` tells either one's timeline: the call put, answered, the end.
    for run_id, api in zip(ran, ("classic", "v2"), strict=True):
        shown = subprocess.run(
            [sys.executable, "-m", "ferry", "runs", "show", run_id, "--data", str(ferry.data)]
            + ["--json"],
            capture_output=True,
            text=True,
            check=True,
        )
        timeline = json.loads(shown.stdout)
        assert timeline["run"]["api"] == api and timeline["run"]["status"] == "completed"
        kinds = [event["event"] for event in timeline["events"]]
        assert kinds[0] == "run.queued" and kinds[-1] == "run.completed"
        assert "queue.put" in kinds and "queue.answered" in kinds
        (call,) = timeline["calls"]
        assert call["tool"] == "GetWeather" and call["state"] == "answered"

    # Each generation lists its own agents only.
    with ferry.agents("both") as classic:
        assert [a.id for a in classic.list_agents()] == [assistant.id]
    with projects(ferry) as project:
        assert [a.name for a in project.agents.list()] == ["v2-weather"]
        project.agents.delete_version(agent_name="v2-weather", agent_version=version.version)
        assert list(project.agents.list()) == []
