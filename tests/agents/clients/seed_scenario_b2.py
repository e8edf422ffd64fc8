"""The seed document's client code as its own text spells it, for azure-ai-projects 1.0.0b2
(`get_messages(...).get_last_text_message_by_sender("assistant")`), run in its own virtual
environment against Ferry. Settings come from `ferry env`. Prints the result as JSON.

One name differs from the seed's text, which no single release accepts whole: it writes
`create_run(..., agent_id=...)`, a name of later betas; 1.0.0b2 (the last with
`get_messages`) takes `assistant_id=`."""

import json
import os
import time

from azure.ai.projects import AIProjectClient
from azure.identity import DefaultAzureCredential

project_client = AIProjectClient.from_connection_string(
    credential=DefaultAzureCredential(), conn_str=os.environ["PROJECT_CONNECTION_STRING"]
)
storage_connection_string = os.environ["STORAGE_CONNECTION__queueServiceUri"]  # noqa: SIM112


def binding(queue_name):
    return {
        "type": "storage_queue",
        "storage_queue": {"queue_service_uri": storage_connection_string, "queue_name": queue_name},
    }


agent = project_client.agents.create_agent(
    model="gpt-4o-mini",
    name="azure-function-agent-get-weather",
    instructions="You are a helpful support agent. Answer the user's questions to the best of "
    "your ability.",
    headers={"x-ms-enable-preview": "true"},
    tools=[
        {
            "type": "azure_function",
            "azure_function": {
                "function": {
                    "name": "GetWeather",
                    "description": "Get the weather in a location.",
                    "parameters": {
                        "type": "object",
                        "properties": {
                            "location": {
                                "type": "string",
                                "description": "The location to look up.",
                            }
                        },
                        "required": ["location"],
                    },
                },
                "input_binding": binding("input"),
                "output_binding": binding("output"),
            },
        }
    ],
)
thread = project_client.agents.create_thread()
message = project_client.agents.create_message(
    thread_id=thread.id, role="user", content="What is the weather in Seattle, WA?"
)
run = project_client.agents.create_run(thread_id=thread.id, assistant_id=agent.id)
deadline = time.monotonic() + 30
while run.status in ["queued", "in_progress", "requires_action"] and time.monotonic() < deadline:
    time.sleep(0.2)
    run = project_client.agents.get_run(thread_id=thread.id, run_id=run.id)

messages = project_client.agents.get_messages(thread_id=thread.id)
last_msg = messages.get_last_text_message_by_sender("assistant")
project_client.agents.delete_agent(agent.id)
print(
    json.dumps(
        {
            "status": run.status,
            "last_error": run.last_error,
            "last_message": last_msg.text.value if last_msg else None,
        }
    )
)
