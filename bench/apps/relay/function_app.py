"""The benchmark's trivial function: input queue → output binding, stamping when it ran."""

import time

import azure.functions as func

app = func.FunctionApp()


@app.queue_trigger(arg_name="msg", queue_name="relay-in", connection="AzureWebJobsStorage")
@app.queue_output(arg_name="out", queue_name="relay-out", connection="AzureWebJobsStorage")
def relay(msg: str, out: func.Out[str]) -> None:
    out.set(f"{msg}|{time.time()}")
