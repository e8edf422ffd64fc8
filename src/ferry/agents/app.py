"""The agents REST API as an ASGI application.

One set of operations is mounted under the three base paths clients build: the seed-era
`/agents/v1.0/subscriptions/…/workspaces/<project>`, the GA `/api/projects/<project>`, and the
bare root (project `default`) for `curl` and the `openai` client. Every request is
authorised, its `api-version` checked, its body read (bounded) and parsed, and any error
turned into the JSON error shape by `ferry.agents.wire`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Mount, Route

from ferry.agents.auth import AnyToken, Authorizer
from ferry.agents.errors import (
    BadRequest,
    InvalidApiVersion,
    MethodNotAllowed,
    NotFound,
    NotSupported,
    PayloadTooLarge,
)
from ferry.agents.requests import (
    MAX_BODY,
    AssistantCreate,
    AssistantUpdate,
    MessageCreate,
    MessageUpdate,
    RunCreate,
    RunUpdate,
    ThreadAndRunCreate,
    ThreadCreate,
    ThreadUpdate,
    ToolOutputs,
    parse_body,
)
from ferry.agents.service import AgentService
from ferry.agents.streaming import RunStream
from ferry.agents.wire import error_response

__all__ = ["DEFAULT_PROJECT", "SEED_PREFIX", "build_app"]

DEFAULT_PROJECT = "default"
SEED_PREFIX = (
    "/agents/v1.0/subscriptions/{subscription}/resourceGroups/{resource_group}"
    "/providers/Microsoft.MachineLearningServices/workspaces/{project}"
)
_API_VERSION = re.compile(r"v1|v\d+(\.\d+)?(-preview)?|\d{4}-\d{2}-\d{2}(-preview)?|latest")
_PROJECT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")

Handler = Callable[[Request], Awaitable[Response]]


class Call:
    """One request, as the handlers see it: its project, path ids and checked query."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.params: dict[str, str] = request.path_params
        self.project: str = self.params.get("project", DEFAULT_PROJECT)
        if not _PROJECT.fullmatch(self.project):
            raise NotFound(f"No project named '{self.project[:140]}'.")
        version = request.query_params.get("api-version")
        if version is not None and not _API_VERSION.fullmatch(version):
            raise InvalidApiVersion(
                f"The api-version '{version[:64]}' is not valid; use 'v1' or a date such as "
                "'2024-12-01-preview'.",
                param="api-version",
            )

    def id(self, name: str) -> str:
        return self.params[name]

    async def body(self) -> bytes:
        declared = self.request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
            raise PayloadTooLarge(f"The request body is larger than {MAX_BODY} bytes.")
        chunks: list[bytes] = []
        size = 0
        async for chunk in self.request.stream():
            size += len(chunk)
            if size > MAX_BODY:
                raise PayloadTooLarge(f"The request body is larger than {MAX_BODY} bytes.")
            chunks.append(chunk)
        return b"".join(chunks)

    def paging(self) -> dict[str, Any]:
        query = self.request.query_params
        raw_limit = query.get("limit", "20")
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 100:
            raise BadRequest("'limit' must be an integer from 1 to 100", param="limit")
        order = query.get("order", "desc")
        if order not in ("asc", "desc"):
            raise BadRequest("'order' must be 'asc' or 'desc'", param="order")
        return {
            "limit": int(raw_limit),
            "order": order,
            "after": query.get("after") or None,
            "before": query.get("before") or None,
        }


def _json(body: dict[str, Any], status: int = 200) -> Response:
    return JSONResponse(body, status_code=status)


class AgentsApi:
    def __init__(self, service: AgentService, authorizer: Authorizer) -> None:
        self.service = service
        self.store = service.store
        self.authorizer = authorizer

    def endpoint(self, operation: Callable[[Call], Awaitable[Response]]) -> Handler:
        async def handle(request: Request) -> Response:
            try:
                # Who asks comes first: a request without credentials learns nothing else.
                project = request.path_params.get("project", DEFAULT_PROJECT)
                await self.authorizer.check(request.headers, project)
                return await operation(Call(request))
            except Exception as exc:
                return error_response(exc)

        return handle

    # Agents --------------------------------------------------------------------------------

    async def create_assistant(self, call: Call) -> Response:
        request = parse_body(AssistantCreate, await call.body())
        return _json(await self.service.create_assistant(call.project, request))

    async def list_assistants(self, call: Call) -> Response:
        page = await self.store.page("assistant", call.project, **call.paging())
        return _json(page.to_json())

    async def get_assistant(self, call: Call) -> Response:
        return _json(await self.store.get("assistant", call.project, call.id("assistant_id")))

    async def update_assistant(self, call: Call) -> Response:
        request = parse_body(AssistantUpdate, await call.body(), empty_ok=True)
        return _json(
            await self.service.update_assistant(call.project, call.id("assistant_id"), request)
        )

    async def delete_assistant(self, call: Call) -> Response:
        assistant_id = call.id("assistant_id")
        await self.store.delete_assistant(call.project, assistant_id)
        return _json({"id": assistant_id, "object": "assistant.deleted", "deleted": True})

    # Threads -------------------------------------------------------------------------------

    async def create_thread(self, call: Call) -> Response:
        request = parse_body(ThreadCreate, await call.body(), empty_ok=True)
        return _json(await self.service.create_thread(call.project, request))

    async def get_thread(self, call: Call) -> Response:
        return _json(await self.store.get("thread", call.project, call.id("thread_id")))

    async def update_thread(self, call: Call) -> Response:
        request = parse_body(ThreadUpdate, await call.body(), empty_ok=True)
        return _json(await self.service.update_thread(call.project, call.id("thread_id"), request))

    async def delete_thread(self, call: Call) -> Response:
        thread_id = call.id("thread_id")
        await self.store.delete_thread(call.project, thread_id)
        return _json({"id": thread_id, "object": "thread.deleted", "deleted": True})

    # Messages ------------------------------------------------------------------------------

    async def create_message(self, call: Call) -> Response:
        request = parse_body(MessageCreate, await call.body())
        return _json(await self.service.create_message(call.project, call.id("thread_id"), request))

    async def list_messages(self, call: Call) -> Response:
        run_id = call.request.query_params.get("run_id") or None
        page = await self.service.list_messages(
            call.project, call.id("thread_id"), run_id, **call.paging()
        )
        return _json(page.to_json())

    async def get_message(self, call: Call) -> Response:
        return _json(
            await self.store.get(
                "message", call.project, call.id("message_id"), thread_id=call.id("thread_id")
            )
        )

    async def update_message(self, call: Call) -> Response:
        request = parse_body(MessageUpdate, await call.body(), empty_ok=True)
        return _json(
            await self.service.update_message(
                call.project, call.id("thread_id"), call.id("message_id"), request
            )
        )

    # Runs ----------------------------------------------------------------------------------

    async def create_run(self, call: Call) -> Response:
        request = parse_body(RunCreate, await call.body())
        run = await self.service.create_run(call.project, call.id("thread_id"), request)
        if not request.stream:
            return _json(run)
        return self._stream(
            RunStream(self.store, self.service.bus, call.project, run),
            [("thread.run.created", run), ("thread.run.queued", run)],
        )

    async def create_thread_and_run(self, call: Call) -> Response:
        request = parse_body(ThreadAndRunCreate, await call.body())
        run = await self.service.create_thread_and_run(call.project, request)
        if not request.stream:
            return _json(run)
        thread = await self.store.get("thread", call.project, run["thread_id"])
        return self._stream(
            RunStream(self.store, self.service.bus, call.project, run),
            [("thread.created", thread), ("thread.run.created", run), ("thread.run.queued", run)],
        )

    @staticmethod
    def _stream(stream: RunStream, opening: list[tuple[str, Any]]) -> Response:
        return StreamingResponse(
            stream.events(opening),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache"},
        )

    async def list_runs(self, call: Call) -> Response:
        thread_id = call.id("thread_id")
        page = await self.store.page(
            "run",
            call.project,
            filters=[("thread_id", thread_id)],
            parent=("thread", thread_id),
            **call.paging(),
        )
        return _json(page.to_json())

    async def get_run(self, call: Call) -> Response:
        return _json(
            await self.store.get(
                "run", call.project, call.id("run_id"), thread_id=call.id("thread_id")
            )
        )

    async def update_run(self, call: Call) -> Response:
        request = parse_body(RunUpdate, await call.body(), empty_ok=True)
        return _json(
            await self.service.update_run(
                call.project, call.id("thread_id"), call.id("run_id"), request
            )
        )

    async def cancel_run(self, call: Call) -> Response:
        return _json(
            await self.service.cancel_run(call.project, call.id("thread_id"), call.id("run_id"))
        )

    async def submit_tool_outputs(self, call: Call) -> Response:
        request = parse_body(ToolOutputs, await call.body())
        thread_id, run_id = call.id("thread_id"), call.id("run_id")
        stream = None
        if request.stream:
            # What the client has seen is read before the outputs let the run go on.
            current = await self.store.get("run", call.project, run_id, thread_id=thread_id)
            stream = RunStream(self.store, self.service.bus, call.project, current)
            await stream.resume()
        run = await self.service.submit_tool_outputs(call.project, thread_id, run_id, request)
        if stream is None:
            return _json(run)
        stream.run = run
        return self._stream(stream, [("thread.run.queued", run)])

    async def list_steps(self, call: Call) -> Response:
        run_id = call.id("run_id")
        thread_id = call.id("thread_id")
        await self.store.get("run", call.project, run_id, thread_id=thread_id)
        page = await self.store.page(
            "step",
            call.project,
            filters=[("thread_id", thread_id), ("run_id", run_id)],
            **call.paging(),
        )
        return _json(page.to_json())

    async def get_step(self, call: Call) -> Response:
        return _json(
            await self.store.get(
                "step",
                call.project,
                call.id("step_id"),
                thread_id=call.id("thread_id"),
                run_id=call.id("run_id"),
            )
        )

    async def not_supported(self, call: Call) -> Response:
        path = call.request.url.path
        raise NotSupported(
            f"{call.request.method} {path[:200]}: files and vector stores are not supported "
            "by Ferry."
        )

    def routes(self) -> list[BaseRoute]:
        return _by_path(self._operations())

    def _operations(self) -> list[Route]:
        e = self.endpoint
        return [
            Route("/assistants", e(self.create_assistant), methods=["POST"]),
            Route("/assistants", e(self.list_assistants), methods=["GET"]),
            Route("/assistants/{assistant_id}", e(self.get_assistant), methods=["GET"]),
            Route("/assistants/{assistant_id}", e(self.update_assistant), methods=["POST"]),
            Route("/assistants/{assistant_id}", e(self.delete_assistant), methods=["DELETE"]),
            Route("/threads", e(self.create_thread), methods=["POST"]),
            Route("/threads/runs", e(self.create_thread_and_run), methods=["POST"]),
            Route("/threads/{thread_id}", e(self.get_thread), methods=["GET"]),
            Route("/threads/{thread_id}", e(self.update_thread), methods=["POST"]),
            Route("/threads/{thread_id}", e(self.delete_thread), methods=["DELETE"]),
            Route("/threads/{thread_id}/messages", e(self.create_message), methods=["POST"]),
            Route("/threads/{thread_id}/messages", e(self.list_messages), methods=["GET"]),
            Route(
                "/threads/{thread_id}/messages/{message_id}", e(self.get_message), methods=["GET"]
            ),
            Route(
                "/threads/{thread_id}/messages/{message_id}",
                e(self.update_message),
                methods=["POST"],
            ),
            Route("/threads/{thread_id}/runs", e(self.create_run), methods=["POST"]),
            Route("/threads/{thread_id}/runs", e(self.list_runs), methods=["GET"]),
            Route("/threads/{thread_id}/runs/{run_id}", e(self.get_run), methods=["GET"]),
            Route("/threads/{thread_id}/runs/{run_id}", e(self.update_run), methods=["POST"]),
            Route(
                "/threads/{thread_id}/runs/{run_id}/cancel", e(self.cancel_run), methods=["POST"]
            ),
            Route(
                "/threads/{thread_id}/runs/{run_id}/submit_tool_outputs",
                e(self.submit_tool_outputs),
                methods=["POST"],
            ),
            Route("/threads/{thread_id}/runs/{run_id}/steps", e(self.list_steps), methods=["GET"]),
            Route(
                "/threads/{thread_id}/runs/{run_id}/steps/{step_id}",
                e(self.get_step),
                methods=["GET"],
            ),
            Route("/files{rest:path}", e(self.not_supported), methods=_ANY),
            Route("/vector_stores{rest:path}", e(self.not_supported), methods=_ANY),
        ]


_ANY = ["GET", "POST", "DELETE", "PUT", "PATCH"]


async def _no_method(request: Request) -> Response:
    return error_response(
        MethodNotAllowed(f"{request.method} is not allowed on {request.url.path[:200]}.")
    )


def _by_path(operations: list[Route]) -> list[BaseRoute]:
    """One route per path, dispatching on the method, so that a method the path does not
    have gets a 405 whose `Allow` names every one it does."""
    handlers: dict[str, dict[str, Handler]] = {}
    for route in operations:
        for method in route.methods or ():
            if method != "HEAD":
                handlers.setdefault(route.path, {})[method] = route.endpoint
    merged: list[BaseRoute] = []
    for path, by_method in handlers.items():

        async def dispatch(request: Request, by_method: dict[str, Handler] = by_method) -> Response:
            # HEAD is answered as GET (Starlette allows it wherever GET is).
            return await by_method.get(request.method, by_method.get("GET", _no_method))(request)

        merged.append(Route(path, dispatch, methods=list(by_method)))
    return merged


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        response = await _no_method(request)
        allowed = (exc.headers or {}).get("Allow")
        if allowed:
            response.headers["Allow"] = allowed
        return response
    return error_response(NotFound(f"No API operation at {request.url.path[:200]}."))


async def _server_error(request: Request, exc: Exception) -> Response:
    return error_response(exc)


def build_app(
    service: AgentService,
    authorizer: Authorizer | None = None,
    *,
    lifespan: Callable[[Starlette], AbstractAsyncContextManager[None]] | None = None,
) -> Starlette:
    api = AgentsApi(service, authorizer or AnyToken())
    operations = api.routes()

    async def openapi(request: Request) -> Response:
        from ferry.agents.openapi import document

        return Response(json.dumps(document()), media_type="application/json")

    return Starlette(
        routes=[
            Route("/openapi.json", openapi, methods=["GET"]),
            Mount(SEED_PREFIX, routes=operations),
            Mount("/api/projects/{project}", routes=operations),
            Mount("", routes=operations),
        ],
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
        lifespan=lifespan,
    )
