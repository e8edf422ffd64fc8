"""The seed's GetWeather, answering through an output binding instead of a QueueClient made
with DefaultAzureCredential (local identity comes with its own issue)."""

import json
import logging

import azure.functions as func

app = func.FunctionApp()


@app.function_name(name="GetWeather")
@app.queue_trigger(arg_name="msg", queue_name="input", connection="AzureWebJobsStorage")
@app.queue_output(arg_name="out", queue_name="output", connection="AzureWebJobsStorage")
def process_queue_message(msg: func.QueueMessage, out: func.Out[str]) -> None:
    payload = json.loads(msg.get_body().decode("utf-8"))
    location = payload["location"]
    if location == "nowhere":
        return  # never answers: the run must time out
    answer = {
        "Value": "Weather is 74 degrees and sunny in " + location,
        "CorrelationId": payload["CorrelationId"],
    }
    logging.info("answering %s", answer)
    out.set(json.dumps(answer))
