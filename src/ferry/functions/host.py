"""The functions host: one app's triggers, its HTTP endpoints and the admin API.

Building a `FunctionsHost` checks everything a listener needs (connections, routes,
schedules) so that a misconfigured function stops `ferry start` before it serves, rather
than the real host's "the listener for function X was unable to start" later.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ferry import __version__
from ferry.functions.connections import Connections
from ferry.functions.conversion import Datum
from ferry.functions.errors import AppLoadError, RouteError
from ferry.functions.hostconfig import HostConfig
from ferry.functions.invoker import Invocation, Invoker
from ferry.functions.keys import HostKeys, load_keys
from ferry.functions.loader import LoadedApp
from ferry.functions.logs import host_log
from ferry.functions.outputs import OutputWriter
from ferry.functions.records import InvocationRecords
from ferry.functions.schedules import TimerSchedules
from ferry.functions.spec import FunctionSpec
from ferry.functions.triggers.http import HttpRoute
from ferry.functions.triggers.queue import HIDE_SECONDS, QueueTrigger, message_datum
from ferry.functions.triggers.timer import TimerTrigger, timer_datum
from ferry.queues.endpoint import Received
from ferry.store.database import Database

__all__ = ["FunctionsHost", "Listing"]

SHUTDOWN_GRACE = 30.0
"""Seconds running invocations get to finish at shutdown before their messages are
released (made visible again) for another host or the next start."""
_ALL_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE")
MAX_HTTP_BODY = 100 * 1024 * 1024
"""The real host's request size limit (100 MB)."""


@dataclass(frozen=True)
class Listing:
    """A function as `ferry start` prints it."""

    name: str
    trigger: str
    detail: str
    methods: str = ""


class FunctionsHost:
    def __init__(
        self,
        app: LoadedApp,
        config: HostConfig,
        connections: Connections,
        database: Database,
        data: Path,
        *,
        enable_auth: bool = False,
        shutdown_grace: float = SHUTDOWN_GRACE,
        trigger_hold: int = HIDE_SECONDS,
    ) -> None:
        self.app = app
        self.trigger_hold = trigger_hold
        self.shutdown_grace = shutdown_grace
        self.config = config
        self.connections = connections
        self.enable_auth = enable_auth
        self.id = uuid.uuid4().hex[:32]
        self.started = time.monotonic()
        self.state = "Initialized"
        self.invoker = Invoker(
            app.folder, timeout=config.function_timeout, records=InvocationRecords(database)
        )
        self.outputs = OutputWriter(connections, config.queues.message_encoding)
        self.keys: HostKeys = load_keys(data, [f.name for f in app.functions])
        self.queue_triggers: list[QueueTrigger] = []
        self.timer_triggers: list[TimerTrigger] = []
        self.routes: list[HttpRoute] = []
        schedules = TimerSchedules(database)
        for function in app.functions:
            for param in function.queue_outputs:
                connections.endpoint(param.binding.setting("connection"), function.name)
            kind = function.trigger.type
            if kind == "queueTrigger":
                endpoint = connections.endpoint(
                    function.trigger.setting("connection"), function.name
                )
                self.queue_triggers.append(
                    QueueTrigger(
                        function,
                        endpoint,
                        config.queues,
                        self.invoker,
                        self.outputs,
                        hold=self.trigger_hold,
                    )
                )
            elif kind == "timerTrigger":
                self.timer_triggers.append(
                    TimerTrigger(function, self.invoker, self.outputs, schedules)
                )
            else:
                try:
                    self.routes.append(HttpRoute.of(function, app.auth_level))
                except RouteError as exc:
                    raise AppLoadError(
                        str(exc), function=function.name, file=function.file, line=function.line
                    ) from None
        self.routes.sort(key=lambda r: -r.literals)
        self._tasks: list[asyncio.Task[None]] = []

    # -- lifecycle --------------------------------------------------------------------------

    def listing(self, base_url: str) -> list[Listing]:
        rows = []
        prefix = f"/{self.config.route_prefix}" if self.config.route_prefix else ""
        for route in self.routes:
            methods = ",".join(sorted(route.methods)) if route.methods else ""
            url = f"{base_url}{prefix}/{route.template}"
            rows.append(Listing(route.function.name, "httpTrigger", url, methods))
        for trigger in self.queue_triggers:
            rows.append(
                Listing(
                    trigger.function.name,
                    "queueTrigger",
                    f"{trigger.queue} on {trigger.endpoint.name}",
                )
            )
        for timer in self.timer_triggers:
            rows.append(Listing(timer.function.name, "timerTrigger", timer.schedule))
        return sorted(rows, key=lambda row: row.name.lower())

    async def start(self) -> None:
        for trigger in self._triggers():
            self._tasks.append(asyncio.create_task(self._guard(trigger)))
        self.state = "Running"

    def _triggers(self) -> list[QueueTrigger | TimerTrigger]:
        return [*self.queue_triggers, *self.timer_triggers]

    async def _guard(self, trigger: QueueTrigger | TimerTrigger) -> None:
        """Keep a listener alive: an unexpected error is logged and the listener restarts."""
        while not trigger.stopping.is_set():
            try:
                await trigger.run()
            except asyncio.CancelledError:
                raise
            except Exception:
                host_log.exception(
                    "listener for function '%s' failed; restarting in 1 s", trigger.function.name
                )
                await asyncio.sleep(1)

    async def stop(self, grace: float | None = None) -> None:
        self.state = "Stopping"
        grace = self.shutdown_grace if grace is None else grace
        await asyncio.gather(*(t.stop(grace) for t in self._triggers()))
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.connections.close()
        self.invoker.close()
        self.state = "Stopped"

    # -- HTTP -------------------------------------------------------------------------------

    def asgi(self) -> Starlette:
        @contextlib.asynccontextmanager
        async def lifespan(_app: Starlette) -> AsyncIterator[None]:
            await self.start()
            try:
                yield
            finally:
                await self.stop()

        routes = [
            Route("/admin/host/status", self._status, methods=["GET"]),
            Route("/admin/functions", self._functions, methods=["GET"]),
            Route("/admin/functions/{name}", self._admin_invoke, methods=["POST"]),
            Route("/{path:path}", self._http, methods=list(_ALL_METHODS)),
        ]
        return Starlette(routes=routes, lifespan=lifespan)

    def _key(self, request: Request) -> str | None:
        return request.headers.get("x-functions-key") or request.query_params.get("code")

    def _admin_allowed(self, request: Request) -> bool:
        return not self.enable_auth or self.keys.allows("admin", "", self._key(request))

    async def _status(self, request: Request) -> Response:
        if not self._admin_allowed(request):
            return Response(status_code=401)
        return JSONResponse(
            {
                "id": self.id,
                "state": self.state,
                "version": "4.0.0",
                "versionDetails": f"Ferry {__version__}",
                "processUptime": int((time.monotonic() - self.started) * 1000),
            }
        )

    async def _functions(self, request: Request) -> Response:
        if not self._admin_allowed(request):
            return Response(status_code=401)
        base = f"{request.url.scheme}://{request.url.netloc}"
        urls = {row.name: row.detail for row in self.listing(base) if row.trigger == "httpTrigger"}
        return JSONResponse(
            [
                {
                    "name": f.name,
                    "trigger": f.trigger.type,
                    "script_file": f.file,
                    "config": {"bindings": [b.settings for b in _bindings(f)]},
                    "invoke_url_template": urls.get(f.name),
                }
                for f in self.app.functions
            ]
        )

    async def _admin_invoke(self, request: Request) -> Response:
        if not self._admin_allowed(request):
            return Response(status_code=401)
        function = self.app.function(request.path_params["name"])
        if function is None:
            return Response(status_code=404)
        try:
            document = json.loads(await request.body() or b"{}")
        except ValueError:
            return _error(400, 'the body must be JSON like {"input": "..."}')
        if not isinstance(document, dict):
            return _error(400, 'the body must be a JSON object like {"input": "..."}')
        given = document.get("input", "")
        text = given if isinstance(given, str) else json.dumps(given)
        if function.trigger.type == "httpTrigger":
            return _error(400, f"'{function.name}' is an HTTP function: call its URL instead")
        if function.trigger.type == "queueTrigger":
            now = datetime.now(UTC)
            fake = Received(
                id=str(uuid.uuid4()),
                pop_receipt="",
                dequeue_count=1,
                inserted_at=now,
                expires_at=now + timedelta(days=7),
                next_visible_at=now,
                text=text,
            )
            datum, metadata = message_datum(fake, text.encode("utf-8"))
        else:
            millis = int(time.time() * 1000)
            datum, metadata = timer_datum(False, None, millis, millis), {}
        task = asyncio.create_task(self._invoke_and_write(function, datum, metadata))
        self.invoker.running.add(task)
        task.add_done_callback(self.invoker.running.discard)
        return Response(status_code=202)

    async def _invoke_and_write(
        self, function: FunctionSpec, datum: Datum, metadata: dict[str, Datum]
    ) -> Invocation:
        invocation = await self.invoker.invoke(
            function,
            datum,
            metadata,
            reason="This function was programmatically called via the host APIs.",
        )
        await self.outputs.settle(invocation)
        return invocation

    async def _http(self, request: Request) -> Response:
        path = request.url.path
        prefix = f"/{self.config.route_prefix}" if self.config.route_prefix else ""
        if prefix:
            if path.lower() != prefix.lower() and not path.lower().startswith(prefix.lower() + "/"):
                return Response(status_code=404)
            path = path[len(prefix) :]
        method = request.method.upper()
        for route in self.routes:
            params = route.match(path)
            if params is None or (route.methods is not None and method not in route.methods):
                continue
            if self.enable_auth and not self.keys.allows(
                route.auth_level, route.function.name, self._key(request)
            ):
                return Response(status_code=401)
            declared = request.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > MAX_HTTP_BODY:
                return Response(status_code=413)
            body = await request.body()
            datum = Datum(
                {
                    "method": Datum(method, "string"),
                    "url": Datum(str(request.url), "string"),
                    "headers": {k: Datum(v, "string") for k, v in request.headers.items()},
                    "params": {k: Datum(v, "string") for k, v in params.items()},
                    "query": {k: Datum(v, "string") for k, v in request.query_params.items()},
                    "body": Datum(body, "bytes"),
                },
                "http",
            )
            invocation = await self._invoke_and_write(route.function, datum, {})
            if not invocation.succeeded:
                return Response(status_code=500)
            return _response(invocation)
        return Response(status_code=404)


def _bindings(function: FunctionSpec) -> list[Any]:
    params = [function.trigger_param, *function.inputs.values(), *function.outputs.values()]
    bindings = [p.binding for p in params]
    if function.returns is not None:
        bindings.append(function.returns.binding)
    return bindings


def _error(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status)


def _response(invocation: Invocation) -> Response:
    """The HTTP response a function produced (its return value or its http output)."""
    datum = invocation.http_response
    if datum is None:
        return Response(status_code=204)
    if datum.type == "string":
        return Response(str(datum.value), media_type="text/plain; charset=utf-8")
    if datum.type == "bytes":
        return Response(bytes(datum.value), media_type="application/octet-stream")
    value = datum.value
    status = int(value["status_code"].value)
    body = value["body"].value
    response = Response(
        body if isinstance(body, bytes) else str(body).encode("utf-8"), status_code=status
    )
    for name, header in value["headers"].items():
        response.headers[name] = str(header.value)
    for cookie in value.get("cookies") or []:
        if isinstance(cookie, SimpleCookie):
            for morsel in cookie.values():
                response.headers.append("set-cookie", morsel.OutputString())
    return response
