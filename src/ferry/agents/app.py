"""The agents REST API as an ASGI application: both API generations on one store.

The operations are mounted under the base paths clients build: the seed-era
`/agents/v1.0/subscriptions/…/workspaces/<project>` and the project endpoint
`/api/projects/<project>`, and the bare root (project `default`; with the Responses API also
at `/responses` and `/v1/responses`) for `curl` and the `openai` client. Every
request is authorised, its `api-version` checked, its body read (bounded) and parsed, and any
error turned into the JSON error shape by `ferry.agents.wire`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from ferry.agents.auth import AnyToken, Authorizer
from ferry.agents.classic.routes import ClassicRoutes
from ferry.agents.connections import ConnectionRoutes
from ferry.agents.errors import NotFound
from ferry.agents.http import DEFAULT_PROJECT, Endpoints, by_path, no_method
from ferry.agents.knowledge import KnowledgeRoutes
from ferry.agents.services import AgentServices
from ferry.agents.v2.routes import OPENAI_BASES, ROOT_BASES, V2Routes
from ferry.agents.wire import error_response

__all__ = ["DEFAULT_PROJECT", "SEED_PREFIX", "build_app"]

SEED_PREFIX = (
    "/agents/v1.0/subscriptions/{subscription}/resourceGroups/{resource_group}"
    "/providers/Microsoft.MachineLearningServices/workspaces/{project}"
)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        response = await no_method(request)
        allowed = (exc.headers or {}).get("Allow")
        if allowed:
            response.headers["Allow"] = allowed
        return response
    return error_response(NotFound(f"No API operation at {request.url.path[:200]}."))


async def _server_error(request: Request, exc: Exception) -> Response:
    return error_response(exc)


def build_app(
    services: AgentServices,
    authorizer: Authorizer | None = None,
    *,
    lifespan: Callable[[Starlette], AbstractAsyncContextManager[None]] | None = None,
    beside: Sequence[BaseRoute] = (),
) -> Starlette:
    """`beside`: routes served next to the API (the dashboard), matched before the root
    operations, which would otherwise answer every path."""
    endpoints = Endpoints(authorizer or AnyToken())
    classic = ClassicRoutes(services.classic, endpoints).operations()
    v2 = V2Routes(services.agents, services.responses, services.conversations, endpoints)
    knowledge = KnowledgeRoutes(services.files, services.vector_stores, endpoints)
    classic += knowledge.operations()
    classic += ConnectionRoutes(endpoints).operations()
    project = v2.project_operations()
    for base in OPENAI_BASES:
        project += knowledge.operations(base)
    root_v2 = v2.root_operations()
    for base in ROOT_BASES:
        if base:
            root_v2 += knowledge.operations(base)
    operations = by_path(classic + project)
    root = by_path(classic + project + root_v2)

    async def openapi(request: Request) -> Response:
        from ferry.agents.openapi import document

        return Response(json.dumps(document()), media_type="application/json")

    return Starlette(
        routes=[
            Route("/openapi.json", openapi, methods=["GET"]),
            *beside,
            Mount(SEED_PREFIX, routes=operations),
            Mount("/api/projects/{project}", routes=operations),
            Mount("", routes=root),
        ],
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
        lifespan=lifespan,
    )
