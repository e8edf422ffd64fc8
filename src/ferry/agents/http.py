"""What every agents API request goes through: authorisation, the project and api-version
checks, a bounded body, paging parameters, and one JSON error shape for any failure.

Each API generation's routes (`ferry.agents.classic.routes`, `ferry.agents.v2.routes`) wrap
their operations with `Endpoints.wrap` and are merged by path with `by_path`.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ferry import jsontext, tracing
from ferry.agents.auth import Authorizer
from ferry.agents.bodies import MAX_BODY
from ferry.agents.errors import (
    BadRequest,
    InvalidApiVersion,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
)
from ferry.agents.wire import error_response
from ferry.types import Json

__all__ = [
    "DEFAULT_PROJECT",
    "Call",
    "Endpoints",
    "Handler",
    "by_path",
    "json_response",
    "no_method",
]

DEFAULT_PROJECT = "default"
_API_VERSION = re.compile(r"v1|v\d+(\.\d+)?(-preview)?|\d{4}-\d{2}-\d{2}(-preview)?|latest|preview")
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

    def query(self, name: str) -> str | None:
        return self.request.query_params.get(name) or None

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

    def paging(self, default_order: str = "desc") -> dict[str, Any]:
        query = self.request.query_params
        raw_limit = query.get("limit", "20")
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 100:
            raise BadRequest("'limit' must be an integer from 1 to 100", param="limit")
        order = query.get("order", default_order)
        if order not in ("asc", "desc"):
            raise BadRequest("'order' must be 'asc' or 'desc'", param="order")
        return {
            "limit": int(raw_limit),
            "order": order,
            "after": query.get("after") or None,
            "before": query.get("before") or None,
        }


def json_response(body: Json, status: int = 200) -> Response:
    return Response(jsontext.dumps(body), status_code=status, media_type="application/json")


class Endpoints:
    """Wraps operations so that each request is authorised first and any error becomes
    the JSON error shape."""

    def __init__(self, authorizer: Authorizer) -> None:
        self.authorizer = authorizer

    def wrap(self, operation: Callable[[Call], Awaitable[Response]]) -> Handler:
        async def handle(request: Request) -> Response:
            try:
                # Who asks comes first: a request without credentials learns nothing else.
                project = request.path_params.get("project", DEFAULT_PROJECT)
                await self.authorizer.check(request.headers, project)
                # A run this request creates continues the client's trace.
                tracing.receive_traceparent(request.headers.get(tracing.TRACEPARENT))
                return await operation(Call(request))
            except Exception as exc:
                return error_response(exc)

        return handle


async def no_method(request: Request) -> Response:
    return error_response(
        MethodNotAllowed(f"{request.method} is not allowed on {request.url.path[:200]}.")
    )


def by_path(operations: list[Route]) -> list[BaseRoute]:
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
            return await by_method.get(request.method, by_method.get("GET", no_method))(request)

        merged.append(Route(path, dispatch, methods=list(by_method)))
    return merged
