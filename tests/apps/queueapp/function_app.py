"""A function app for the tests: every trigger and binding Ferry runs, written as a user
would write it for `func start`."""

import asyncio
import json
import logging
import os
import time
import typing

import azure.functions as func
from shared import describe

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
bp = func.Blueprint()


@app.function_name(name="Echo")
@app.queue_trigger(arg_name="msg", queue_name="echo-in", connection="AzureWebJobsStorage")
@app.queue_output(arg_name="out", queue_name="echo-out", connection="AzureWebJobsStorage")
def echo(msg: func.QueueMessage, out: func.Out[str], context: func.Context) -> None:
    logging.info("echo got %s", msg.id)
    out.set(json.dumps({**describe(msg), "function": context.function_name}))


@app.queue_trigger(arg_name="msg", queue_name="fail-in", connection="AzureWebJobsStorage")
@app.queue_output(arg_name="out", queue_name="fail-out", connection="AzureWebJobsStorage")
def always_fails(msg: func.QueueMessage, out: func.Out[str]) -> None:
    out.set("must never be written")
    raise RuntimeError(f"failing on purpose (dequeue {msg.dequeue_count})")


@app.queue_trigger(arg_name="msg", queue_name="fan-in", connection="AzureWebJobsStorage")
@app.queue_output(arg_name="$return", queue_name="fan-out", connection="AzureWebJobsStorage")
def fan_out(msg: str) -> typing.List[str]:  # noqa: UP006 - the worker wants typing.List
    return [f"{msg}-{i}" for i in range(3)]


@app.queue_trigger(arg_name="msg", queue_name="bytes-in", connection="AzureWebJobsStorage")
@app.queue_output(arg_name="out", queue_name="bytes-out", connection="AzureWebJobsStorage")
def raw_bytes(msg: bytes, out: func.Out[bytes]) -> None:
    out.set(bytes(reversed(msg)))


@app.queue_trigger(arg_name="msg", queue_name="async-in", connection="AzureWebJobsStorage")
@app.queue_output(arg_name="out", queue_name="async-out", connection="AzureWebJobsStorage")
async def async_echo(msg: func.QueueMessage, out: func.Out[str]) -> None:
    await asyncio.sleep(0)
    out.set(json.dumps({"json": msg.get_json()}))


@app.queue_trigger(arg_name="msg", queue_name="slow-in", connection="AzureWebJobsStorage")
@app.queue_output(arg_name="out", queue_name="slow-out", connection="AzureWebJobsStorage")
def slow(msg: str, out: func.Out[str]) -> None:
    time.sleep(float(os.environ.get("SLOW_SECONDS", "2")))
    out.set(msg)


@app.route(route="hello/{name}", methods=["GET"])
def hello(req: func.HttpRequest) -> func.HttpResponse:
    name = req.route_params["name"]
    greeting = os.environ.get("GREETING", "hello")
    return func.HttpResponse(
        json.dumps({"greeting": f"{greeting} {name}", "q": req.params.get("q")}),
        mimetype="application/json",
        headers={"x-from": "ferry-test"},
    )


@app.route(route="items/{id:int}", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@app.queue_output(arg_name="out", queue_name="items", connection="AzureWebJobsStorage")
def add_item(req: func.HttpRequest, out: func.Out[str]) -> func.HttpResponse:
    body = req.get_json()
    out.set(json.dumps({"id": int(req.route_params["id"]), **body}))
    return func.HttpResponse(status_code=201)


@app.route(route="boom", auth_level=func.AuthLevel.ANONYMOUS)
def boom(req: func.HttpRequest) -> func.HttpResponse:
    raise ValueError("boom")


@app.route(route="admin-only", auth_level=func.AuthLevel.ADMIN)
def admin_only(req: func.HttpRequest) -> str:
    return "admin ok"


@app.timer_trigger(schedule="%TICK_SCHEDULE%", arg_name="timer", run_on_startup=True)
@app.queue_output(arg_name="out", queue_name="ticks", connection="AzureWebJobsStorage")
def tick(timer: func.TimerRequest, out: func.Out[str]) -> None:
    out.set(json.dumps({"past_due": timer.past_due}))


@bp.queue_trigger(arg_name="msg", queue_name="bp-in", connection="AzureWebJobsStorage")
@bp.queue_output(arg_name="out", queue_name="bp-out", connection="AzureWebJobsStorage")
def from_blueprint(msg: str, out: func.Out[str]) -> None:
    out.set(msg.upper())


app.register_functions(bp)
