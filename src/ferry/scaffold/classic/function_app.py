"""An agent that answers weather questions by calling a function over storage queues.

`GetWeather` is the agent's tool: the agent service puts each call on the `input` queue as
`{"location": ..., "CorrelationId": ...}`; the function answers on `output` with the same
CorrelationId, and the run goes on. `prompt` is the front door: POST {"Prompt": "..."} to
/api/prompt and it creates the agent, a thread and a run, waits, and returns the answer.
"""

import json
import logging
import os

import azure.functions as func
from azure.ai.agents.models import AzureFunctionStorageQueue, AzureFunctionTool, MessageRole
from azure.ai.projects import AIProjectClient
from azure.identity import DefaultAzureCredential

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)


@app.function_name(name="GetWeather")
@app.queue_trigger(arg_name="msg", queue_name="input", connection="STORAGE_CONNECTION")
@app.queue_output(arg_name="answer", queue_name="output", connection="STORAGE_CONNECTION")
def get_weather(msg: func.QueueMessage, answer: func.Out[str]) -> None:
    call = json.loads(msg.get_body().decode("utf-8"))
    location = call["location"]
    logging.info("weather asked for %s", location)
    # A stand-in for a real weather service.
    reply = {
        "Value": f"Weather is 74 degrees and sunny in {location}",
        "CorrelationId": call["CorrelationId"],
    }
    answer.set(json.dumps(reply))


def _weather_tool() -> AzureFunctionTool:
    queues = os.environ["STORAGE_CONNECTION__queueServiceUri"]  # noqa: SIM112 (its real name)
    return AzureFunctionTool(
        name="GetWeather",
        description="Get the weather in a location.",
        parameters={
            "type": "object",
            "properties": {"location": {"type": "string", "description": "The location."}},
            "required": ["location"],
        },
        input_queue=AzureFunctionStorageQueue(queue_name="input", storage_service_endpoint=queues),
        output_queue=AzureFunctionStorageQueue(
            queue_name="output", storage_service_endpoint=queues
        ),
    )


@app.route(route="prompt", methods=["POST"])
def prompt(req: func.HttpRequest) -> func.HttpResponse:
    try:
        question = req.get_json()["Prompt"]
    except (ValueError, KeyError, TypeError):
        return func.HttpResponse('Send {"Prompt": "..."} as JSON.', status_code=400)

    project = AIProjectClient(
        endpoint=os.environ["PROJECT_ENDPOINT"], credential=DefaultAzureCredential()
    )
    with project:
        agents = project.agents
        agent = agents.create_agent(
            model=os.environ.get("MODEL_DEPLOYMENT_NAME", "gpt-4o-mini"),
            name="weather-agent",
            instructions="You are a helpful support agent. Use GetWeather for weather questions.",
            tools=_weather_tool().definitions,
        )
        try:
            thread = agents.threads.create()
            agents.messages.create(thread_id=thread.id, role="user", content=question)
            run = agents.runs.create_and_process(
                thread_id=thread.id, agent_id=agent.id, polling_interval=0.2
            )
            if run.status != "completed":
                return func.HttpResponse(f"The run {run.status}: {run.last_error}", status_code=502)
            last = agents.messages.get_last_message_text_by_role(thread.id, MessageRole.AGENT)
            text = last.text.value if last else ""
        finally:
            agents.delete_agent(agent.id)
    return func.HttpResponse(json.dumps({"Answer": text}), mimetype="application/json")
