"""The agent benchmark's tool: a queue-triggered function that takes `BENCH_SLEEP` seconds
(default 1) and answers on the output queue, as the seed's GetWeather does."""

import asyncio
import json
import os

import azure.functions as func

app = func.FunctionApp()
SLEEP = float(os.environ.get("BENCH_SLEEP", "1"))


@app.queue_trigger(arg_name="msg", queue_name="bench-in", connection="AzureWebJobsStorage")
@app.queue_output(arg_name="out", queue_name="bench-out", connection="AzureWebJobsStorage")
async def slow_weather(msg: func.QueueMessage, out: func.Out[str]) -> None:
    call = json.loads(msg.get_body())
    await asyncio.sleep(SLEEP)
    answer = f"It is 74 degrees in {call['location']}."
    out.set(json.dumps({"Value": answer, "CorrelationId": call["CorrelationId"]}))
