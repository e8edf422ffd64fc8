"""The openapi tool: specs become functions (checked, $refs resolved, named), and calls go
over real HTTP to a fake weather API, with their limits and auth."""

from __future__ import annotations

import copy
import json
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from ferry.errors import FerryError
from ferry.tools.errors import OpenApiAuthError, OpenApiSpecError
from ferry.tools.openapi.client import (
    MAX_OPERATIONS,
    Auth,
    CallResult,
    OpenApiCaller,
    Operation,
    auth_from_tool,
    parse_spec,
)
from tests.fakes.openapi_server import (
    API_KEY,
    BEARER_TOKEN,
    FakeOpenApiServer,
    weather_spec,
    weather_spec_31,
)

Json = dict[str, Any]

WEATHER_NAMES = [
    "weather_getWeather",
    "weather_createOrder",
    "weather_cancelOrder",
    "weather_getSecret",
    "weather_getKeyed",
    "weather_getMe",
    "weather_getMissing",
    "weather_getBig",
    "weather_getSlow",
    "weather_echo",
    "weather_redirect",
    "weather_get_hello",
]


@pytest.fixture(scope="module")
def api() -> Iterator[FakeOpenApiServer]:
    with FakeOpenApiServer() as server:
        yield server


@pytest.fixture
def server(api: FakeOpenApiServer) -> FakeOpenApiServer:
    api.reset()
    return api


@pytest.fixture
def ops(server: FakeOpenApiServer) -> dict[str, Operation]:
    return by_name(parse_spec("weather", weather_spec(server.base_url)))


def by_name(operations: list[Operation]) -> dict[str, Operation]:
    return {operation.name: operation for operation in operations}


def tiny_spec(paths: Json | None = None, **extra: Any) -> Json:
    """A minimal valid 3.0 document with one GET operation unless `paths` is given."""
    return {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "servers": [{"url": "http://127.0.0.1:9"}],
        "paths": paths
        if paths is not None
        else {"/a": {"get": {"operationId": "a", "responses": {"200": {"description": "ok"}}}}},
        **extra,
    }


def get_op(operation_id: str | None = None, **fields: Any) -> Json:
    op: Json = {"responses": {"200": {"description": "ok"}}, **fields}
    if operation_id is not None:
        op["operationId"] = operation_id
    return {"get": op}


def closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    sock.close()
    return port


def has_ref(value: Any) -> bool:
    return "$ref" in json.dumps(value)


# -- parsing -------------------------------------------------------------------------------------


def test_a_30_spec_becomes_one_function_per_operation(server: FakeOpenApiServer) -> None:
    operations = parse_spec("weather", weather_spec(server.base_url))

    assert [op.name for op in operations] == WEATHER_NAMES
    weather = operations[0]
    assert (weather.method, weather.path, weather.server) == (
        "GET",
        "/weather/{location}",
        server.base_url,
    )
    assert weather.operation_id == "getWeather"
    assert weather.description == "Current weather for a location"
    assert weather.function() == {
        "name": "weather_getWeather",
        "description": "Current weather for a location",
        "parameters": weather.parameters,
    }
    order = operations[1]
    assert order.description == "Place an order\n\nOrders an item for delivery."
    hello = operations[-1]
    assert (hello.operation_id, hello.description) == (None, "Says hello.")


def test_refs_are_resolved_into_plain_schemas(ops: dict[str, Operation]) -> None:
    weather = ops["weather_getWeather"]
    assert weather.parameters == {
        "type": "object",
        "properties": {
            # from components/parameters, declared on the path item
            "location": {"type": "string", "description": "City or place name"},
            # components/parameters → components/schemas
            "unit": {
                "type": "string",
                "enum": ["c", "f"],
                "default": "c",
                "description": "c for Celsius, f for Fahrenheit",
            },
        },
        "required": ["location"],
    }
    body = ops["weather_createOrder"].parameters["properties"]["body"]
    assert body["required"] == ["item", "quantity"]
    assert body["properties"]["item"] == {
        "type": "string",
        "description": "What to order",
        "minLength": 1,
    }
    for operation in ops.values():
        assert not has_ref(operation.parameters), operation.name
        assert type(operation.parameters) is dict


def test_required_follows_the_spec(ops: dict[str, Operation]) -> None:
    order = ops["weather_createOrder"].parameters
    assert order["required"] == ["body"]  # the body is required, the header is not
    assert set(order["properties"]) == {"X-Request-Id", "body"}
    assert ops["weather_cancelOrder"].parameters["required"] == ["id"]
    assert "required" not in ops["weather_echo"].parameters
    assert set(ops["weather_echo"].parameters["properties"]) == {
        "tags",
        "ids",
        "filter",
        "verbose",
        "X-Trace",
        "session",
    }
    assert ops["weather_getBig"].parameters == {"type": "object", "properties": {}}


def test_a_31_spec_parses_the_same_with_its_own_spellings(server: FakeOpenApiServer) -> None:
    operations = by_name(parse_spec("weather", weather_spec_31(server.base_url)))

    assert list(operations) == WEATHER_NAMES
    body = operations["weather_createOrder"].parameters["properties"]["body"]
    assert body["properties"]["notes"] == {"type": ["string", "null"]}
    # 3.1 lets a $ref carry a description of its own, which wins over the target's
    assert body["properties"]["item"] == {
        "type": "string",
        "description": "The item's catalogue name",
        "minLength": 1,
    }
    assert not any(has_ref(op.parameters) for op in operations.values())


def test_the_spec_given_is_not_changed(server: FakeOpenApiServer) -> None:
    spec = weather_spec(server.base_url)
    before = copy.deepcopy(spec)
    parse_spec("weather", spec)
    assert spec == before


def test_names_without_operation_id_come_from_method_and_path() -> None:
    spec = tiny_spec(
        {
            "/": get_op(),
            "/users/{user-id}/posts.json": {
                "parameters": [
                    {
                        "name": "user-id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    }
                ],
                "delete": {"responses": {"204": {"description": "gone"}}},
            },
        }
    )
    assert [op.name for op in parse_spec("api", spec)] == [
        "api_get",
        "api_delete_users_user_id_posts_json",
    ]


def test_names_are_sanitized_and_cut_to_64_characters() -> None:
    long_id = "list" + "Everything" * 10
    spec = tiny_spec({"/a": get_op("get weather.v2!"), "/b": get_op(long_id)})
    first, second = parse_spec("my tool", spec)

    assert first.name == "my_tool_get_weather_v2_"
    assert len(second.name) == 64
    assert second.name.startswith("my_tool_listEverything")
    assert all(c.isalnum() or c in "_-" for c in second.name)
    # the cut is stable, and different long names stay different
    assert parse_spec("my tool", spec)[1].name == second.name
    other = tiny_spec({"/b": get_op(long_id + "X")})
    assert parse_spec("my tool", other)[0].name != second.name


def test_names_that_collide_after_sanitizing_are_an_error() -> None:
    spec = tiny_spec({"/a": get_op("get.item"), "/b": get_op("get_item")})
    with pytest.raises(OpenApiSpecError, match=r"spec\.paths\./b\.get: .*'t_get_item'.*/a"):
        parse_spec("t", spec)


def test_parameters_sharing_a_name_get_their_location_as_prefix() -> None:
    spec = tiny_spec(
        {
            "/items/{id}": {
                "post": {
                    "operationId": "update",
                    "parameters": [
                        {
                            "name": "id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        },
                        {"name": "id", "in": "query", "schema": {"type": "integer"}},
                        {"name": "body", "in": "header", "schema": {"type": "string"}},
                        # OpenAPI says these three header parameters are ignored
                        {"name": "Accept", "in": "header", "schema": {"type": "string"}},
                        {"name": "Content-Type", "in": "header", "schema": {"type": "string"}},
                        {"name": "Authorization", "in": "header", "schema": {"type": "string"}},
                    ],
                    "requestBody": {
                        "content": {"application/json": {"schema": {"type": "object"}}}
                    },
                    "responses": {"200": {"description": "ok"}},
                }
            }
        }
    )
    (operation,) = parse_spec("t", spec)
    assert list(operation.parameters["properties"]) == ["id", "query_id", "body", "body_body"]
    assert operation.parameters["required"] == ["id"]


def test_path_item_servers_and_variables() -> None:
    spec = tiny_spec(
        {
            "/a": {**get_op("a"), "servers": [{"url": "https://a.example/v1/"}]},
            "/b": get_op("b"),
        },
        servers=[
            {
                "url": "https://{region}.example.com/{base}",
                "variables": {
                    "region": {"default": "eu", "enum": ["eu", "us"]},
                    "base": {"default": "api"},
                },
            }
        ],
    )
    a, b = parse_spec("t", spec)
    assert a.server == "https://a.example/v1"
    assert b.server == "https://eu.example.com/api"


def test_recursive_schemas_are_cut_with_a_note() -> None:
    spec = tiny_spec(
        {
            "/tree": {
                "post": {
                    "operationId": "plant",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Node"}}
                        },
                    },
                    "responses": {"200": {"description": "ok"}},
                }
            }
        },
        components={
            "schemas": {
                "Node": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "children": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/Node"},
                        },
                    },
                }
            }
        },
    )
    for version in ("3.0.3", "3.1.0"):
        (operation,) = parse_spec("t", {**spec, "openapi": version})
        body = operation.parameters["properties"]["body"]
        items = body["properties"]["children"]["items"]
        assert items == {
            "description": "Recursive schema: the same as an enclosing level, not expanded further."
        }
        json.dumps(operation.parameters)  # a tree, no cycles left


def test_keys_the_official_samples_add_are_ignored() -> None:
    # The service's own samples carry a top-level "auth" and "components.schemes", which
    # OpenAPI does not define; the service accepts them, so Ferry does too.
    spec = tiny_spec(
        {"/{city}": get_op("GetWeather", parameters=[city_parameter()])},
        auth=[],
        components={"schemes": {}},
    )
    for version in ("3.0.3", "3.1.0"):
        (operation,) = parse_spec("get_weather", {**spec, "openapi": version})
        assert operation.name == "get_weather_GetWeather"
        assert operation.parameters["required"] == ["city"]


def city_parameter() -> Json:
    return {"name": "city", "in": "path", "required": True, "schema": {"type": "string"}}


def test_default_params_are_hidden_from_the_model() -> None:
    spec = tiny_spec(
        {
            "/{city}": get_op(
                "w",
                parameters=[
                    city_parameter(),
                    {
                        "name": "format",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string", "default": "j1"},
                    },
                ],
            )
        }
    )
    (shown,) = parse_spec("t", spec)
    assert shown.parameters["required"] == ["city", "format"]
    (hidden,) = parse_spec("t", spec, default_params=["format"])
    assert list(hidden.parameters["properties"]) == ["city"]
    assert hidden.parameters["required"] == ["city"]


def test_an_unsendable_optional_body_is_left_out() -> None:
    upload = {
        "put": {
            "operationId": "upload",
            "requestBody": {"content": {"multipart/form-data": {"schema": {"type": "object"}}}},
            "responses": {"200": {"description": "ok"}},
        }
    }
    (operation,) = parse_spec("t", tiny_spec({"/f": upload}))
    assert operation.parameters == {"type": "object", "properties": {}}


# -- bad specs -----------------------------------------------------------------------------------


def with_(mutate: Callable[[Json], Any], version: str = "3.0.3") -> Json:
    spec = weather_spec("http://127.0.0.1:9")
    spec["openapi"] = version
    mutate(spec)
    return spec


def schemas(spec: Json) -> Json:
    result: Json = spec["components"]["schemas"]
    return result


def many_operations(spec: Json) -> None:
    spec["paths"] = {f"/p{i}": get_op() for i in range(MAX_OPERATIONS + 1)}


def ref_cycle(spec: Json) -> None:
    schemas(spec)["Item"] = {"$ref": "#/components/schemas/Alias"}
    schemas(spec)["Alias"] = {"$ref": "#/components/schemas/Item"}


BAD_SPECS: list[tuple[str, Any, str]] = [
    ("list", [], r"^spec: must be a JSON object, not an array$"),
    ("string", "openapi: 3.0.0", r"^spec: must be a JSON object, not a string$"),
    (
        "swagger",
        {"swagger": "2.0", "info": {}, "paths": {}},
        r"^spec\.swagger: Swagger 2\.0 documents are not supported",
    ),
    ("version", with_(lambda s: s.update(openapi="4.0.0")), r"^spec\.openapi: version '4\.0\.0'"),
    ("no version", with_(lambda s: s.pop("openapi")), r"^spec\.openapi: missing"),
    ("no info", with_(lambda s: s.pop("info")), r"^spec: 'info' is a required property$"),
    (
        "bad parameter location",
        with_(lambda s: s["paths"]["/echo"]["get"]["parameters"][1].update({"in": "body"})),
        r"^spec\.paths\./echo\.get\.parameters\.1: in: must be one of path, query, header",
    ),
    (
        "bad parameter location 3.1",
        with_(
            lambda s: s["paths"]["/echo"]["get"]["parameters"][1].update({"in": "body"}), "3.1.0"
        ),
        r"^spec\.paths\./echo\.get\.parameters\.1\.in: 'body' is not one of",
    ),
    (
        "no responses",
        with_(lambda s: s["paths"]["/missing"]["get"].pop("responses")),
        r"^spec\.paths\./missing\.get: 'responses' is a required property$",
    ),
    (
        "undeclared path parameter",
        with_(lambda s: s["paths"].update({"/x/{y}": get_op("x")})),
        r"Path parameter 'y' for 'get' operation in '/x/\{y\}' was not resolved",
    ),
    (
        "duplicate operationId",
        with_(lambda s: s["paths"]["/missing"]["get"].update(operationId="echo")),
        r"Operation ID 'echo' .* is not unique",
    ),
    ("no servers", with_(lambda s: s.pop("servers")), r"^spec\.servers: no servers"),
    (
        "relative server",
        with_(lambda s: s.update(servers=[{"url": "/api/v1"}])),
        r"^spec\.servers\.0\.url: '/api/v1' is relative",
    ),
    (
        "ftp server",
        with_(lambda s: s.update(servers=[{"url": "ftp://files.example/"}])),
        r"^spec\.servers\.0\.url: 'ftp://files\.example/' is not an http\(s\) URL",
    ),
    ("no operations", with_(lambda s: s.update(paths={})), r"^spec\.paths: no operations"),
    (
        "too many operations",
        with_(many_operations),
        rf"^spec\.paths: {MAX_OPERATIONS + 1} operations; a tool may offer at most "
        rf"{MAX_OPERATIONS}$",
    ),
    (
        "file ref",
        with_(lambda s: schemas(s).update(Item={"$ref": "common.yaml#/Item"})),
        r"^spec\.components\.schemas\.Item\.\$ref: external reference 'common\.yaml#/Item' "
        r"is not allowed",
    ),
    (
        "dangling ref",
        with_(lambda s: schemas(s).update(Item={"$ref": "#/components/schemas/Nope"})),
        r"^spec\.components\.schemas\.Item\.\$ref: '#/components/schemas/Nope' points to "
        r"nothing",
    ),
    (
        "ref cycle",
        with_(ref_cycle),
        r"circular reference with no content: #/components/schemas/Alias → "
        r"#/components/schemas/Item → #/components/schemas/Alias",
    ),
    (
        "required body nobody can send",
        with_(
            lambda s: s["paths"]["/orders"]["post"]["requestBody"].update(
                content={"application/octet-stream": {"schema": {}}}
            )
        ),
        r"^spec\.paths\./orders\.post\.requestBody\.content: no media type Ferry can send",
    ),
]


@pytest.mark.parametrize(
    ("spec", "message"), [c[1:] for c in BAD_SPECS], ids=[c[0] for c in BAD_SPECS]
)
def test_bad_specs_are_refused_saying_what_and_where(spec: Any, message: str) -> None:
    with pytest.raises(OpenApiSpecError, match=message) as caught:
        parse_spec("weather", spec)
    assert isinstance(caught.value, FerryError)


def test_a_document_nested_absurdly_deep_is_refused() -> None:
    deep: Json = {"type": "string"}
    for _ in range(300):
        deep = {"type": "object", "properties": {"x": deep}}
    spec = with_(lambda s: schemas(s).update(Deep=deep))
    with pytest.raises(OpenApiSpecError, match=r"nested deeper than 200 levels"):
        parse_spec("weather", spec)


def test_a_tool_name_with_nothing_usable_is_refused() -> None:
    with pytest.raises(OpenApiSpecError, match="no usable character"):
        parse_spec("", tiny_spec())


def test_nothing_is_fetched_while_reading_a_spec(server: FakeOpenApiServer) -> None:
    remote = f"{server.base_url}/weather/Item"
    external = with_(lambda s: schemas(s).update(Item={"$ref": remote}))
    with pytest.raises(OpenApiSpecError, match="external reference"):
        parse_spec("weather", external)
    # a 3.1 schema's $id, $schema or the document's dialect naming a URL does not fetch it
    with_id = with_(lambda s: schemas(s)["Item"].update({"$id": remote}), "3.1.0")
    parse_spec("weather", with_id)
    with_schema = with_(lambda s: schemas(s)["Item"].update({"$schema": remote}), "3.1.0")
    with pytest.raises(OpenApiSpecError, match="dialect"):
        parse_spec("weather", with_schema)
    with_dialect = with_(lambda s: s.update(jsonSchemaDialect=remote), "3.1.0")
    with pytest.raises(OpenApiSpecError):
        parse_spec("weather", with_dialect)
    time.sleep(0.1)
    assert server.requests == []


# -- calls ---------------------------------------------------------------------------------------


async def call(
    operation: Operation, arguments: Any, auth: Auth | None = None, **limits: Any
) -> CallResult:
    async with OpenApiCaller(**limits) as caller:
        return await caller.call(operation, arguments, auth or Auth.anonymous())


async def test_path_and_query_arguments(
    server: FakeOpenApiServer, ops: dict[str, Operation]
) -> None:
    result = await call(ops["weather_getWeather"], {"location": "New York", "unit": "f"})

    assert result == CallResult(
        output='{"location":"New York","unit":"f","temperature":70,"conditions":"sunny"}',
        status=200,
        is_error=False,
    )
    request = server.last()
    assert (request.method, request.path, request.query) == (
        "GET",
        "/weather/New%20York",
        [("unit", "f")],
    )


async def test_path_values_cannot_leave_their_segment(
    server: FakeOpenApiServer, ops: dict[str, Operation]
) -> None:
    await call(ops["weather_getWeather"], {"location": "a/../b?c#d"})
    assert server.last().path == "/weather/a%2F..%2Fb%3Fc%23d"
    assert server.last().query == []
    await call(ops["weather_cancelOrder"], {"id": ".."})
    assert server.last().path == "/orders/%2E%2E"


async def test_header_and_json_body(server: FakeOpenApiServer, ops: dict[str, Operation]) -> None:
    order = {"item": "umbrella", "quantity": 2, "notes": "ünïcode"}
    result = await call(ops["weather_createOrder"], {"body": order, "X-Request-Id": "req-7"})

    assert result.status == 201 and not result.is_error
    assert json.loads(result.output) == {"id": "order-1", "status": "placed", **order}
    request = server.last()
    assert request.method == "POST"
    assert json.loads(request.body) == order
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-request-id"] == "req-7"


async def test_query_styles_headers_and_cookies(
    server: FakeOpenApiServer, ops: dict[str, Operation]
) -> None:
    arguments = {
        "tags": ["rain", "wind"],  # form, exploded (the default): repeated
        "ids": [1, 2, 3],  # form, explode false: comma-separated
        "filter": {"city": "Oslo", "days": 3},  # deepObject
        "verbose": True,
        "X-Trace": "trace-1",
        "session": "s;1",
    }
    result = await call(ops["weather_echo"], arguments)

    assert not result.is_error
    request = server.last()
    assert request.query == [
        ("tags", "rain"),
        ("tags", "wind"),
        ("ids", "1,2,3"),
        ("filter[city]", "Oslo"),
        ("filter[days]", "3"),
        ("verbose", "true"),
    ]
    assert request.headers["x-trace"] == "trace-1"
    assert request.headers["cookie"] == "session=s%3B1"


async def test_form_and_text_bodies(server: FakeOpenApiServer) -> None:
    def posting(media_type: str) -> Operation:
        body = {"required": True, "content": {media_type: {"schema": {}}}}
        post = {
            "operationId": "post",
            "requestBody": body,
            "responses": {"200": {"description": "ok"}},
        }
        spec = tiny_spec({"/echo": {"post": post}}, servers=[{"url": server.base_url}])
        (operation,) = parse_spec("t", spec)
        return operation

    form = posting("application/x-www-form-urlencoded")
    result = await call(form, {"body": {"q": "a b&c", "n": 2, "ok": False}})
    assert not result.is_error
    assert server.last().body == b"q=a+b%26c&n=2&ok=false"
    assert server.last().headers["content-type"] == "application/x-www-form-urlencoded"
    result = await call(form, {"body": "q=1"})
    assert result.is_error and "must be an object" in result.output

    await call(posting("text/plain"), {"body": "just text"})
    assert (server.last().body, server.last().headers["content-type"]) == (
        b"just text",
        "text/plain",
    )


async def test_hostile_arguments_become_errors_not_crashes(
    server: FakeOpenApiServer, ops: dict[str, Operation]
) -> None:
    result = await call(ops["weather_echo"], {"X-Trace": "a\r\nX-Injected: yes"})
    assert result.is_error and result.status is None
    result = await call(ops["weather_echo"], {"X-Trace": "naïve"})  # headers are ASCII
    assert result.is_error and "the request could not be made" in result.output
    for value in (["a", "b"], {"k": "v/w"}, 12.5, True):
        result = await call(ops["weather_getWeather"], {"location": value})
        assert not result.is_error, result
    assert [r.path for r in server.requests[-4:]] == [
        "/weather/a,b",
        "/weather/k,v%2Fw",
        "/weather/12.5",
        "/weather/true",
    ]
    assert all("x-injected" not in r.headers for r in server.requests)


async def test_unknown_arguments_are_ignored(
    server: FakeOpenApiServer, ops: dict[str, Operation]
) -> None:
    result = await call(ops["weather_getWeather"], {"location": "Oslo", "colour": "blue"})
    assert not result.is_error
    assert server.last().query == []


async def test_a_missing_required_argument_is_reported_without_a_request(
    server: FakeOpenApiServer, ops: dict[str, Operation]
) -> None:
    result = await call(ops["weather_createOrder"], {"X-Request-Id": "r"})
    assert result == CallResult(
        output="weather_createOrder: missing required argument(s): body. No request was sent.",
        status=None,
        is_error=True,
    )
    result = await call(ops["weather_getWeather"], {"location": None})
    assert result.is_error and "location" in result.output
    result = await call(ops["weather_getWeather"], ["Oslo"])
    assert result.is_error and "must be a JSON object" in result.output
    assert server.requests == []


async def test_a_required_argument_with_a_default_falls_back_to_it(
    server: FakeOpenApiServer,
) -> None:
    spec = weather_spec(server.base_url)
    spec["components"]["parameters"]["Unit"]["required"] = True
    operation = by_name(parse_spec("weather", spec))["weather_getWeather"]
    assert operation.parameters["required"] == ["location", "unit"]

    result = await call(operation, {"location": "Oslo"})
    assert not result.is_error
    assert server.last().query == [("unit", "c")]

    (hidden,) = [
        op
        for op in parse_spec("weather", spec, default_params=["unit"])
        if op.operation_id == "getWeather"
    ]
    await call(hidden, {"location": "Oslo", "unit": "f"})  # the model cannot override it
    assert server.last().query == [("unit", "c")]


async def test_http_errors_are_reported_with_status_and_body(
    server: FakeOpenApiServer, ops: dict[str, Operation]
) -> None:
    result = await call(ops["weather_getMissing"], {})
    assert result == CallResult(
        output="HTTP 404 Not Found: nothing here", status=404, is_error=True
    )
    result = await call(ops["weather_getWeather"], {"location": "Atlantis"})
    assert result == CallResult(
        output='HTTP 404 Not Found: {"error":"no such place","location":"Atlantis"}',
        status=404,
        is_error=True,
    )


async def test_redirects_are_reported_not_followed(
    server: FakeOpenApiServer, ops: dict[str, Operation]
) -> None:
    result = await call(ops["weather_redirect"], {})
    assert result.is_error and result.status == 302
    assert result.output.startswith("HTTP 302 Found: redirect to /weather/Paris not followed")
    assert [r.path for r in server.requests] == ["/redirect"]


async def test_text_and_empty_bodies(ops: dict[str, Operation]) -> None:
    assert await call(ops["weather_get_hello"], {}) == CallResult("hello, world", 200, False)
    assert await call(ops["weather_cancelOrder"], {"id": "o-1"}) == CallResult(
        "HTTP 204 No Content (empty body)", 204, False
    )


async def test_a_big_body_is_truncated_at_the_cap(ops: dict[str, Operation]) -> None:
    started = time.monotonic()
    result = await call(ops["weather_getBig"], {})  # 5 MB against the default 1 MB cap

    assert result.status == 200 and not result.is_error
    assert result.output == "x" * 1_000_000 + (
        "\n[Ferry: the response was truncated at 1000000 bytes]"
    )
    assert time.monotonic() - started < 10
    small = await call(ops["weather_getBig"], {}, max_response_bytes=1000)
    assert small.output.startswith("x" * 1000 + "\n[Ferry: the response was truncated")


async def test_a_slow_answer_times_out(ops: dict[str, Operation]) -> None:
    started = time.monotonic()
    result = await call(ops["weather_getSlow"], {"seconds": 10}, timeout=0.5)

    assert result == CallResult(
        output="GET http://127.0.0.1:{}/slow timed out after 0.5 s".format(
            ops["weather_getSlow"].server.rsplit(":", 1)[1]
        ),
        status=None,
        is_error=True,
    )
    assert time.monotonic() - started < 3


async def test_a_refused_connection_is_reported_with_its_cause() -> None:
    spec = weather_spec(f"http://127.0.0.1:{closed_port()}")
    operation = by_name(parse_spec("weather", spec))["weather_getMissing"]

    result = await call(operation, {})
    assert result.is_error and result.status is None
    assert "/missing failed: could not connect: Connection refused" in result.output


async def test_a_given_client_is_used_and_left_open(ops: dict[str, Operation]) -> None:
    async with httpx.AsyncClient() as client:
        caller = OpenApiCaller(client=client)
        result = await caller.call(ops["weather_get_hello"], {}, Auth.anonymous())
        await caller.aclose()
        assert result.output == "hello, world"
        assert not client.is_closed


# -- auth ----------------------------------------------------------------------------------------


class Secrets:
    """An injected connection resolver that remembers what it was asked."""

    def __init__(self, secret: str = API_KEY) -> None:
        self.asked: list[str] = []
        self.secret = secret

    async def __call__(self, connection_id: str) -> str:
        self.asked.append(connection_id)
        return self.secret


class Tokens:
    """An injected identity service: one token per audience, counting requests."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def __call__(self, audience: str) -> str:
        self.asked.append(audience)
        return BEARER_TOKEN


CONNECTION = {"type": "connection", "security_scheme": {"connection_id": "conn-1"}}


async def test_an_api_key_goes_in_the_header_the_spec_names(
    server: FakeOpenApiServer, ops: dict[str, Operation]
) -> None:
    secrets = Secrets()
    auth = await auth_from_tool(CONNECTION, list(ops.values()), connection_secret=secrets)

    assert (auth.kind, auth.location, auth.name, auth.value) == (
        "api_key",
        "header",
        "x-api-key",
        API_KEY,
    )
    assert API_KEY not in repr(auth)
    assert secrets.asked == ["conn-1"]
    result = await call(ops["weather_getSecret"], {}, auth)
    assert result == CallResult('{"secret":"the header key worked"}', 200, False)
    assert server.last().headers["x-api-key"] == API_KEY

    unauthenticated = await call(ops["weather_getSecret"], {})
    assert unauthenticated.is_error and unauthenticated.output.startswith("HTTP 401 Unauthorized")


async def test_an_api_key_goes_in_the_query_when_the_spec_says_so(
    server: FakeOpenApiServer,
) -> None:
    spec = weather_spec(server.base_url)
    spec["security"] = [{"apiKeyQuery": []}]  # required everywhere: this scheme comes first
    operations = parse_spec("weather", spec)
    auth = await auth_from_tool(CONNECTION, operations, connection_secret=Secrets())
    assert (auth.location, auth.name) == ("query", "api_key")

    result = await call(by_name(operations)["weather_getKeyed"], {}, auth)
    assert result == CallResult('{"secret":"the query key worked"}', 200, False)
    assert ("api_key", API_KEY) in server.last().query


async def test_a_cookie_key_and_a_bearer_scheme_for_connections(
    server: FakeOpenApiServer,
) -> None:
    spec = weather_spec(server.base_url)
    schemes = spec["components"]["securitySchemes"]
    spec["security"] = [{"cookieKey": []}]
    schemes["cookieKey"] = {"type": "apiKey", "in": "cookie", "name": "key"}
    operations = by_name(parse_spec("weather", spec))
    auth = await auth_from_tool(CONNECTION, list(operations.values()), connection_secret=Secrets())
    await call(operations["weather_echo"], {"session": "s"}, auth)
    assert server.last().headers["cookie"] == f"session=s; key={API_KEY}"

    spec["security"] = [{"bearer": []}]
    operations = by_name(parse_spec("weather", spec))
    auth = await auth_from_tool(
        CONNECTION, list(operations.values()), connection_secret=Secrets(BEARER_TOKEN)
    )
    assert auth.kind == "bearer"
    result = await call(operations["weather_getMe"], {}, auth)
    assert result == CallResult('{"user":"ferry"}', 200, False)


async def test_managed_identity_asks_the_injected_token_source_at_each_call(
    server: FakeOpenApiServer, ops: dict[str, Operation]
) -> None:
    tokens = Tokens()
    declared = {"type": "managed_identity", "security_scheme": {"audience": "api://weather"}}
    auth = await auth_from_tool(declared, list(ops.values()), identity_token=tokens)
    assert auth.kind == "bearer"
    assert tokens.asked == []

    for _ in range(2):
        result = await call(ops["weather_getMe"], {}, auth)
        assert result == CallResult('{"user":"ferry"}', 200, False)
    assert tokens.asked == ["api://weather", "api://weather"]
    assert server.last().headers["authorization"] == f"Bearer {BEARER_TOKEN}"


async def test_a_failing_token_source_is_an_error_without_a_request(
    server: FakeOpenApiServer, ops: dict[str, Operation]
) -> None:
    async def broken() -> str:
        raise RuntimeError("identity service down")

    result = await call(ops["weather_getMe"], {}, Auth.bearer(broken))
    assert result.is_error and result.status is None
    assert "no token could be had" in result.output
    assert server.requests == []


async def test_anonymous_auth_is_the_default(ops: dict[str, Operation]) -> None:
    operations = list(ops.values())
    assert await auth_from_tool(None, operations) == Auth.anonymous()
    assert await auth_from_tool({"type": "anonymous"}, operations) == Auth()


async def test_bad_auth_declarations_are_refused(ops: dict[str, Operation]) -> None:
    operations = list(ops.values())

    async def failing(connection_id: str) -> str:
        raise LookupError(f"no connection {connection_id}")

    cases: list[tuple[Any, Json, str]] = [
        ({"type": "oauth2"}, {}, "is not one of anonymous, connection, managed_identity"),
        ("anonymous", {}, "auth must be an object"),
        ({"type": "connection"}, {"connection_secret": Secrets()}, "connection_id: missing"),
        (CONNECTION, {}, "no resolver"),
        (CONNECTION, {"connection_secret": failing}, "'conn-1': no connection conn-1"),
        ({"type": "managed_identity", "security_scheme": {}}, {}, "audience: missing"),
        (
            {"type": "managed_identity", "security_scheme": {"audience": "a"}},
            {},
            "no resolver",
        ),
    ]
    for declared, resolvers, message in cases:
        with pytest.raises(OpenApiAuthError, match=message):
            await auth_from_tool(declared, operations, **resolvers)


async def test_connection_auth_needs_a_scheme_in_the_spec() -> None:
    operations = parse_spec("t", tiny_spec())
    with pytest.raises(OpenApiAuthError, match="needs an apiKey"):
        await auth_from_tool(CONNECTION, operations, connection_secret=Secrets())
    with pytest.raises(OpenApiAuthError):
        Auth(kind="api_key", location="body", name="k", value="v")
    with pytest.raises(OpenApiAuthError):
        Auth(kind="bearer")
