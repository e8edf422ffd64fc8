"""An agent that answers weather questions by calling a function over storage queues.

Written for the agents API v2 (azure-ai-projects 2.x): the agent is a named, versioned
definition, and it answers through the OpenAI Responses API. `GetWeather` is the agent's
tool: the agent service puts each call on the `input` queue with its arguments under
`function_args` and a `CorrelationId`; the function answers on `output` with the same
CorrelationId, and the response goes on. `prompt` is the front door: POST {"Prompt": "..."}
to /api/prompt and it creates a version of the agent, asks it, and returns the answer.
"""

import json
import logging
import os

import azure.functions as func
from azure.ai.projects import AIProjectClient
from azure.ai.projects.models import (
    AzureFunctionBinding,
    AzureFunctionDefinition,
    AzureFunctionDefinitionFunction,
    AzureFunctionStorageQueue,
    AzureFunctionTool,
    PromptAgentDefinition,
)
from azure.identity import DefaultAzureCredential

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)


@app.function_name(name="GetWeather")
@app.queue_trigger(arg_name="msg", queue_name="input", connection="STORAGE_CONNECTION")
@app.queue_output(arg_name="answer", queue_name="output", connection="STORAGE_CONNECTION")
def get_weather(msg: func.QueueMessage, answer: func.Out[str]) -> None:
    call = json.loads(msg.get_body().decode("utf-8"))
    location = call["function_args"]["location"]
    logging.info("weather asked for %s", location)
    # A stand-in for a real weather service.
    reply = {
        "Value": f"Weather is 74 degrees and sunny in {location}",
        "CorrelationId": call["CorrelationId"],
    }
    answer.set(json.dumps(reply))


def _weather_tool() -> AzureFunctionTool:
    queues = os.environ["STORAGE_CONNECTION__queueServiceUri"]  # noqa: SIM112 (its real name)

    def queue(name: str) -> AzureFunctionBinding:
        return AzureFunctionBinding(
            storage_queue=AzureFunctionStorageQueue(queue_name=name, queue_service_endpoint=queues)
        )

    return AzureFunctionTool(
        azure_function=AzureFunctionDefinition(
            function=AzureFunctionDefinitionFunction(
                name="GetWeather",
                description="Get the weather in a location.",
                parameters={
                    "type": "object",
                    "properties": {"location": {"type": "string", "description": "The location."}},
                    "required": ["location"],
                },
            ),
            input_binding=queue("input"),
            output_binding=queue("output"),
        )
    )


@app.route(route="prompt", methods=["POST"])
def prompt(req: func.HttpRequest) -> func.HttpResponse:
    try:
        question = req.get_json()["Prompt"]
    except (ValueError, KeyError, TypeError):
        return func.HttpResponse('Send {"Prompt": "..."} as JSON.', status_code=400)

    with (
        DefaultAzureCredential() as credential,
        AIProjectClient(endpoint=os.environ["PROJECT_ENDPOINT"], credential=credential) as project,
    ):
        agent = project.agents.create_version(
            agent_name="weather-agent",
            definition=PromptAgentDefinition(
                model=os.environ.get("MODEL_DEPLOYMENT_NAME", "gpt-4o-mini"),
                instructions="You are a helpful support agent. Use GetWeather for weather "
                "questions.",
                tools=[_weather_tool()],
            ),
        )
        try:
            with project.get_openai_client() as openai:
                response = openai.responses.create(
                    input=question,
                    extra_body={
                        "agent_reference": {
                            "type": "agent_reference",
                            "name": agent.name,
                            "version": agent.version,
                        }
                    },
                )
            if response.status != "completed":
                return func.HttpResponse(
                    f"The response {response.status}: {response.error}", status_code=502
                )
            text = response.output_text
        finally:
            project.agents.delete_version(agent_name=agent.name, agent_version=agent.version)
    return func.HttpResponse(json.dumps({"Answer": text}), mimetype="application/json")
