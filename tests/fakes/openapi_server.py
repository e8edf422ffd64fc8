"""A small weather API reached over real HTTP, with its OpenAPI documents, for the openapi tool.

It runs (Starlette under uvicorn) on its own thread and event loop, on a free 127.0.0.1 port,
and records every request. `weather_spec(base_url)` is its OpenAPI 3.0 document (with
`$ref`s to `components/schemas` and `components/parameters`), `weather_spec_31(base_url)` the
3.1 variant::

    with FakeOpenApiServer() as server:
        operations = parse_spec("weather", weather_spec(server.base_url))

Endpoints: ``GET /weather/{location}?unit=c|f`` (404 for Atlantis), ``POST /orders`` (JSON
body), ``GET /secret`` (needs the ``x-api-key`` header), ``GET /keyed`` (needs the
``api_key`` query parameter), ``GET /me`` (needs ``Authorization: Bearer``), ``GET /missing``
(404), ``GET /big`` (a 5 MB body), ``GET /slow`` (sleeps), ``GET|POST /echo`` (answers what
it got), ``GET /redirect`` (302), ``GET /hello`` (text, no operationId), ``DELETE /orders/{id}``
(204).
"""

from __future__ import annotations

import asyncio
import copy
import json
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route

from tests.fakes.serving import ThreadServer

__all__ = [
    "API_KEY",
    "BEARER_TOKEN",
    "BIG_BODY_BYTES",
    "FakeOpenApiServer",
    "RecordedRequest",
    "weather_spec",
    "weather_spec_31",
]

Json = dict[str, Any]

API_KEY = "k3y-for-tests"
BEARER_TOKEN = "token-for-tests"
BIG_BODY_BYTES = 5 * 1024 * 1024
_TEMPERATURES = {"c": 21, "f": 70}


@dataclass
class RecordedRequest:
    method: str
    path: str
    """The raw path, still percent-encoded."""
    query: list[tuple[str, str]]
    headers: dict[str, str]
    """Lower-case names."""
    body: bytes


class FakeOpenApiServer(ThreadServer):
    name = "fake-openapi"

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()

    def last(self) -> RecordedRequest:
        with self._lock:
            return self.requests[-1]

    # -- HTTP --------------------------------------------------------------------------------

    def _app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/weather/{location:path}", self._weather, methods=["GET"]),
                Route("/orders", self._create_order, methods=["POST"]),
                Route("/orders/{order_id}", self._delete_order, methods=["DELETE"]),
                Route("/secret", self._secret, methods=["GET"]),
                Route("/keyed", self._keyed, methods=["GET"]),
                Route("/me", self._me, methods=["GET"]),
                Route("/missing", self._missing, methods=["GET"]),
                Route("/big", self._big, methods=["GET"]),
                Route("/slow", self._slow, methods=["GET"]),
                Route("/echo", self._echo, methods=["GET", "POST"]),
                Route("/redirect", self._redirect, methods=["GET"]),
                Route("/hello", self._hello, methods=["GET"]),
            ]
        )

    async def _record(self, request: Request) -> RecordedRequest:
        recorded = RecordedRequest(
            method=request.method,
            path=request.scope.get("raw_path", b"").decode("latin-1") or request.url.path,
            query=list(request.query_params.multi_items()),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=await request.body(),
        )
        with self._lock:
            self.requests.append(recorded)
        return recorded

    async def _weather(self, request: Request) -> Response:
        await self._record(request)
        location = request.path_params["location"]
        unit = request.query_params.get("unit", "c")
        if location == "Atlantis":
            return JSONResponse({"error": "no such place", "location": location}, status_code=404)
        if unit not in _TEMPERATURES:
            return JSONResponse({"error": f"unknown unit {unit!r}"}, status_code=400)
        return JSONResponse(
            {
                "location": location,
                "unit": unit,
                "temperature": _TEMPERATURES[unit],
                "conditions": "sunny",
            }
        )

    async def _create_order(self, request: Request) -> Response:
        recorded = await self._record(request)
        try:
            order = json.loads(recorded.body)
        except ValueError:
            return JSONResponse({"error": "the body is not JSON"}, status_code=400)
        if not isinstance(order, dict) or "item" not in order:
            return JSONResponse({"error": "item is required"}, status_code=422)
        return JSONResponse({"id": "order-1", "status": "placed", **order}, status_code=201)

    async def _delete_order(self, request: Request) -> Response:
        await self._record(request)
        return Response(status_code=204)

    async def _secret(self, request: Request) -> Response:
        await self._record(request)
        if request.headers.get("x-api-key") != API_KEY:
            return JSONResponse({"error": "bad or missing x-api-key"}, status_code=401)
        return JSONResponse({"secret": "the header key worked"})

    async def _keyed(self, request: Request) -> Response:
        await self._record(request)
        if request.query_params.get("api_key") != API_KEY:
            return JSONResponse({"error": "bad or missing api_key"}, status_code=401)
        return JSONResponse({"secret": "the query key worked"})

    async def _me(self, request: Request) -> Response:
        await self._record(request)
        if request.headers.get("authorization") != f"Bearer {BEARER_TOKEN}":
            return JSONResponse({"error": "bad or missing bearer token"}, status_code=401)
        return JSONResponse({"user": "ferry"})

    async def _missing(self, request: Request) -> Response:
        await self._record(request)
        return PlainTextResponse("nothing here", status_code=404)

    async def _big(self, request: Request) -> Response:
        await self._record(request)

        async def chunks() -> AsyncIterator[bytes]:
            chunk = b"x" * 65536
            for _ in range(BIG_BODY_BYTES // len(chunk)):
                if await request.is_disconnected():
                    return  # the client has read enough
                yield chunk

        return StreamingResponse(chunks(), media_type="text/plain")

    async def _slow(self, request: Request) -> Response:
        await self._record(request)
        seconds = float(request.query_params.get("seconds", "5"))
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if await request.is_disconnected():
                return Response(status_code=499)
            await asyncio.sleep(0.05)
        return JSONResponse({"slept": seconds})

    async def _echo(self, request: Request) -> Response:
        recorded = await self._record(request)
        return JSONResponse(
            {
                "path": recorded.path,
                "query": recorded.query,
                "headers": recorded.headers,
                "body": recorded.body.decode("utf-8", "replace"),
            }
        )

    async def _redirect(self, request: Request) -> Response:
        await self._record(request)
        return RedirectResponse("/weather/Paris", status_code=302)

    async def _hello(self, request: Request) -> Response:
        await self._record(request)
        return PlainTextResponse("hello, world")


# -- the documents -------------------------------------------------------------------------------


def _json_response(schema_ref: str, description: str = "OK") -> Json:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": schema_ref}}},
    }


_ERROR = {"$ref": "#/components/responses/Error"}


def weather_spec(base_url: str) -> Json:
    """The fake server's OpenAPI 3.0 document, served at `base_url`."""
    return {
        "openapi": "3.0.3",
        "info": {"title": "Fake weather", "version": "1.0.0"},
        "servers": [{"url": base_url}],
        "paths": {
            "/weather/{location}": {
                "parameters": [{"$ref": "#/components/parameters/Location"}],
                "get": {
                    "operationId": "getWeather",
                    "summary": "Current weather for a location",
                    "parameters": [{"$ref": "#/components/parameters/Unit"}],
                    "responses": {
                        "200": _json_response("#/components/schemas/Weather"),
                        "404": _ERROR,
                    },
                },
            },
            "/orders": {
                "post": {
                    "operationId": "createOrder",
                    "summary": "Place an order",
                    "description": "Orders an item for delivery.",
                    "parameters": [
                        {
                            "name": "X-Request-Id",
                            "in": "header",
                            "required": False,
                            "schema": {"type": "string"},
                        }
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/OrderRequest"}
                            }
                        },
                    },
                    "responses": {"201": _json_response("#/components/schemas/Order", "Placed")},
                }
            },
            "/orders/{id}": {
                "delete": {
                    "operationId": "cancelOrder",
                    "parameters": [
                        {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
                    ],
                    "responses": {"204": {"description": "Cancelled"}},
                }
            },
            "/secret": {
                "get": {
                    "operationId": "getSecret",
                    "security": [{"apiKeyHeader": []}],
                    "responses": {"200": {"description": "OK"}, "401": _ERROR},
                }
            },
            "/keyed": {
                "get": {
                    "operationId": "getKeyed",
                    "security": [{"apiKeyQuery": []}],
                    "responses": {"200": {"description": "OK"}, "401": _ERROR},
                }
            },
            "/me": {
                "get": {
                    "operationId": "getMe",
                    "security": [{"bearer": []}],
                    "responses": {"200": {"description": "OK"}, "401": _ERROR},
                }
            },
            "/missing": {
                "get": {"operationId": "getMissing", "responses": {"404": _ERROR}},
            },
            "/big": {
                "get": {"operationId": "getBig", "responses": {"200": {"description": "Big"}}},
            },
            "/slow": {
                "get": {
                    "operationId": "getSlow",
                    "parameters": [
                        {
                            "name": "seconds",
                            "in": "query",
                            "schema": {"type": "number", "default": 5},
                        }
                    ],
                    "responses": {"200": {"description": "Slept"}},
                }
            },
            "/echo": {
                "get": {
                    "operationId": "echo",
                    "parameters": [
                        {"$ref": "#/components/parameters/Tags"},
                        {
                            "name": "ids",
                            "in": "query",
                            "explode": False,
                            "schema": {"type": "array", "items": {"type": "integer"}},
                        },
                        {
                            "name": "filter",
                            "in": "query",
                            "style": "deepObject",
                            "schema": {"type": "object", "additionalProperties": True},
                        },
                        {"name": "verbose", "in": "query", "schema": {"type": "boolean"}},
                        {"name": "X-Trace", "in": "header", "schema": {"type": "string"}},
                        {"name": "session", "in": "cookie", "schema": {"type": "string"}},
                    ],
                    "responses": {"200": {"description": "What the server got"}},
                }
            },
            "/redirect": {
                "get": {"operationId": "redirect", "responses": {"302": {"description": "Moved"}}}
            },
            "/hello": {
                "get": {
                    "description": "Says hello.",
                    "responses": {"200": {"description": "Text"}},
                }
            },
        },
        "components": {
            "parameters": {
                "Location": {
                    "name": "location",
                    "in": "path",
                    "required": True,
                    "description": "City or place name",
                    "schema": {"type": "string"},
                },
                "Unit": {
                    "name": "unit",
                    "in": "query",
                    "required": False,
                    "description": "c for Celsius, f for Fahrenheit",
                    "schema": {"$ref": "#/components/schemas/Unit"},
                },
                "Tags": {
                    "name": "tags",
                    "in": "query",
                    "schema": {"type": "array", "items": {"type": "string"}},
                },
            },
            "schemas": {
                "Unit": {"type": "string", "enum": ["c", "f"], "default": "c"},
                "Weather": {
                    "type": "object",
                    "properties": {
                        "location": {"type": "string"},
                        "unit": {"$ref": "#/components/schemas/Unit"},
                        "temperature": {"type": "number"},
                        "conditions": {"type": "string"},
                    },
                },
                "Item": {"type": "string", "description": "What to order", "minLength": 1},
                "OrderRequest": {
                    "type": "object",
                    "required": ["item", "quantity"],
                    "properties": {
                        "item": {"$ref": "#/components/schemas/Item"},
                        "quantity": {"type": "integer", "minimum": 1},
                        "notes": {"type": "string", "nullable": True},
                    },
                },
                "Order": {
                    "allOf": [
                        {"$ref": "#/components/schemas/OrderRequest"},
                        {"type": "object", "properties": {"id": {"type": "string"}}},
                    ]
                },
                "Error": {"type": "object", "properties": {"error": {"type": "string"}}},
            },
            "responses": {"Error": _json_response("#/components/schemas/Error", "An error")},
            "securitySchemes": {
                "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "x-api-key"},
                "apiKeyQuery": {"type": "apiKey", "in": "query", "name": "api_key"},
                "bearer": {"type": "http", "scheme": "bearer"},
            },
        },
    }


def weather_spec_31(base_url: str) -> Json:
    """The same API as an OpenAPI 3.1 document: JSON Schema 2020-12 spellings (type arrays
    instead of `nullable`) and a `$ref` with a sibling `description`, which 3.1 allows."""
    spec = copy.deepcopy(weather_spec(base_url))
    spec["openapi"] = "3.1.0"
    spec["info"]["summary"] = "The fake weather API"
    schemas = spec["components"]["schemas"]
    schemas["OrderRequest"]["properties"]["notes"] = {"type": ["string", "null"]}
    schemas["OrderRequest"]["properties"]["item"] = {
        "$ref": "#/components/schemas/Item",
        "description": "The item's catalogue name",
    }
    return spec
