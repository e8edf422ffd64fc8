"""The `openapi` tool: an OpenAPI 3.0/3.1 document becomes one function per operation, and a
call of such a function becomes one HTTP request.

An agent declares the tool with a name, a spec (the document as a JSON object) and how calls
authenticate. `parse_spec` checks the document and builds the `Operation`s the model is
offered; `auth_from_tool` turns the declared auth into an `Auth`, with the secrets coming from
callables the engine injects (so this module needs nothing else of Ferry); `OpenApiCaller`
makes the calls. The callee's faults (refused connections, timeouts, HTTP errors, huge
bodies) come back as a `CallResult` with `is_error` set: the model should hear of them, the
run should not crash.

Function names: ``f"{tool_name}_{operationId}"``; an operation without an operationId gets
``f"{method}_{path}"`` instead, with each run of characters other than letters and digits in
the path made one ``_`` (``GET /weather/{city}`` → ``get_weather_city``). Every character
outside ``[A-Za-z0-9_-]`` then becomes ``_``, and a name longer than 64 characters keeps its
first 55 and ends with ``_`` and 8 hex digits of its SHA-256. Two operations that end up with
the same name make the spec an error.

Arguments: one per path/query/header/cookie parameter, named as in the spec, and ``body`` for
the request body. When two parameters share a name (a path ``id`` and a query ``id``), the
later one is ``f"{in}_{name}"`` (``query_id``); the body becomes ``body_body`` when a
parameter is called ``body``. Arguments the operation does not have are ignored: models add
stray ones, and the request stays what the spec describes.

Calls: redirects are not followed (a 3xx is reported to the model with its Location); only
http/https servers are accepted; nothing is fetched while a spec is read (external ``$ref``s
are refused before any library could follow them).
"""

from __future__ import annotations

import asyncio
import codecs
import functools
import hashlib
import http
import importlib
import json
import logging
import os
import re
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote, urlencode, urlsplit

import httpx

from ferry.tools.errors import OpenApiAuthError, OpenApiSpecError
from ferry.types import Json

__all__ = [
    "MAX_OPERATIONS",
    "Auth",
    "CallResult",
    "ConnectionSecret",
    "IdentityToken",
    "OpenApiCaller",
    "Operation",
    "Parameter",
    "TokenSource",
    "auth_from_tool",
    "parse_spec",
]

log = logging.getLogger(__name__)

MAX_OPERATIONS = 128
"""A spec offering more functions than this would drown the model's context."""
MAX_NAME = 64
"""The longest function name the model APIs accept."""
MAX_DOCUMENT_DEPTH = 200
"""Deeper nesting is no real API; refusing it keeps every walk of the document bounded."""
MAX_SCHEMA_DEPTH = 32
"""An argument schema is cut below this depth (with a note), after `$ref`s are resolved."""
MAX_SCHEMA_NODES = 5_000
"""Shared `$ref`s can multiply when resolved; an operation's schema larger than this is an
error rather than megabytes of prompt."""
ERROR_EXCERPT = 2_000
"""How much of an HTTP error's body the model is shown."""

_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_LOCATIONS = ("path", "query", "header", "cookie")
_IGNORED_HEADERS = {"accept", "content-type", "authorization"}
"""Header parameters OpenAPI says to ignore: the request's own machinery sets these."""
_ROOT_KEYS = {
    "openapi",
    "info",
    "jsonSchemaDialect",
    "servers",
    "paths",
    "webhooks",
    "components",
    "security",
    "tags",
    "externalDocs",
}
_COMPONENT_KEYS = {
    "schemas",
    "responses",
    "parameters",
    "examples",
    "requestBodies",
    "headers",
    "securitySchemes",
    "links",
    "callbacks",
    "pathItems",
}
_RECURSION_NOTE = "Recursive schema: the same as an enclosing level, not expanded further."
_DEPTH_NOTE = f"Nested deeper than {MAX_SCHEMA_DEPTH} levels: not expanded further."
_NO_REQUEST = "No request was sent."


# -- the spec ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Parameter:
    """Where one argument of an operation goes on the wire."""

    key: str
    """The argument's name in `Operation.parameters`."""
    name: str
    """The name on the wire (the parameter's `name`; "body" for the request body)."""
    location: str
    """ "path", "query", "header", "cookie" or "body"."""
    required: bool = False
    style: str = "simple"
    explode: bool = False
    json_text: bool = False
    """Described by `content` instead of `schema`: the value is sent as JSON text."""
    media_type: str = ""
    """The body's media type (body only)."""
    has_default: bool = False
    default: Any = None
    """The schema's `default`: sent when a required argument is missing, and always for
    parameters named in `default_params` (which the model is not offered)."""
    hidden: bool = False
    """Named in `default_params`: not offered to the model, always sent with its default."""


@dataclass(frozen=True)
class Operation:
    """One function offered to the model, and how to make its request."""

    name: str
    """The function's name (see the module's naming rule)."""
    description: str
    """The operation's summary and description, or ``"GET /path"`` without either."""
    parameters: dict[str, Any]
    """The function's JSON schema: an object with one property per argument."""
    method: str
    """Upper case: ``GET``."""
    path: str
    """The path template, ``/weather/{location}``."""
    server: str
    """The absolute base URL, without a trailing slash."""
    operation_id: str | None = None
    bindings: tuple[Parameter, ...] = ()
    security: tuple[str, ...] = ()
    """The security scheme names this operation's requirements mention, in order."""
    security_schemes: dict[str, Any] = field(default_factory=dict)
    """The spec's `components.securitySchemes` ($refs resolved)."""

    def function(self) -> Json:
        """The function as model APIs take it: name, description and parameters."""
        return {"name": self.name, "description": self.description, "parameters": self.parameters}


def parse_spec(tool_name: str, spec: Any, *, default_params: Iterable[str] = ()) -> list[Operation]:
    """Check an OpenAPI 3.0/3.1 document and build its operations.

    Refused: a non-object, Swagger 2.0 and other versions, anything the OpenAPI schema
    rejects, external or dangling ``$ref``s and ``$ref`` cycles, no (or a relative, or a
    non-http) server, no operations or more than `MAX_OPERATIONS`, request bodies that are
    required but in no media type Ferry can send. Keys OpenAPI does not define at the top
    level and under `components` are dropped first, as the service does (the official
    samples carry ``auth`` and ``components.schemes``). `default_params` names parameters
    whose spec default is always sent and which the model is therefore not offered.
    Nothing is fetched.
    """
    prefix = _sanitize(tool_name)
    if not prefix:
        raise OpenApiSpecError(f"the tool name {tool_name!r} has no usable character")
    if not isinstance(spec, Mapping):
        raise OpenApiSpecError(f"spec: must be a JSON object, not {_json_type(spec)}")
    document = _plain_json(spec, ("spec",), 0)
    assert isinstance(document, dict)
    version = _version(document)
    document = _drop_unknown_keys(document, version)
    _check_refs(document)
    _validate(document, version)
    resolved = _resolve_refs(document, merge_siblings=version == "3.1")
    return _build_operations(prefix, resolved, frozenset(default_params))


def _json_type(value: Any) -> str:
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        return "an array"
    if value is None:
        return "null"
    if isinstance(value, bool | int | float):
        return "a number" if not isinstance(value, bool) else "a boolean"
    return type(value).__name__


def _where(path: Iterable[Any]) -> str:
    """``("spec", "paths", "/x", "get")`` → ``spec.paths./x.get``."""
    return ".".join(str(part) for part in path)


def _plain_json(value: Any, path: tuple[Any, ...], depth: int) -> Any:
    """A copy made only of dict/list/str/int/float/bool/None, depth-checked (this also stops
    Python-level cycles and anything that is not JSON)."""
    if depth > MAX_DOCUMENT_DEPTH:
        raise OpenApiSpecError(f"{_where(path)}: nested deeper than {MAX_DOCUMENT_DEPTH} levels")
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, Mapping):
        out: Json = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise OpenApiSpecError(f"{_where(path)}: key {key!r} is not a string")
            out[key] = _plain_json(item, (*path, key), depth + 1)
        return out
    if isinstance(value, list | tuple):
        return [_plain_json(item, (*path, i), depth + 1) for i, item in enumerate(value)]
    raise OpenApiSpecError(f"{_where(path)}: {type(value).__name__} is not a JSON value")


def _version(document: Json) -> str:
    if "swagger" in document:
        raise OpenApiSpecError(
            "spec.swagger: Swagger 2.0 documents are not supported; convert to OpenAPI 3.0 or 3.1"
        )
    version = document.get("openapi")
    if not isinstance(version, str):
        raise OpenApiSpecError('spec.openapi: missing; expected a version such as "3.0.3"')
    for known in ("3.0", "3.1"):
        if re.fullmatch(rf"{re.escape(known)}\.\d+(-.+)?", version):
            return known
    raise OpenApiSpecError(f"spec.openapi: version {version!r} is not supported (3.0.x or 3.1.x)")


def _drop_unknown_keys(document: Json, version: str) -> Json:
    root_keys, component_keys = _ROOT_KEYS, _COMPONENT_KEYS
    if version == "3.0":
        root_keys = root_keys - {"webhooks", "jsonSchemaDialect"}
        component_keys = component_keys - {"pathItems"}
    out = {k: v for k, v in document.items() if k in root_keys or k.startswith("x-")}
    components = out.get("components")
    if isinstance(components, dict):
        out["components"] = {
            k: v for k, v in components.items() if k in component_keys or k.startswith("x-")
        }
    return out


def _iter_refs(value: Any, path: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], str]]:
    if isinstance(value, dict):
        ref = value.get("$ref")
        if isinstance(ref, str):
            yield path, ref
        for key, item in value.items():
            yield from _iter_refs(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _iter_refs(item, (*path, i))


def _pointer_target(document: Json, ref: str) -> tuple[bool, Any]:
    """Follow a local JSON pointer (``#/a/b``); (False, None) when it leads nowhere."""
    pointer = ref[1:]
    if pointer and not pointer.startswith("/"):
        return False, None  # "#name" anchors: not JSON pointers
    current: Any = document
    for raw in pointer.split("/")[1:] if pointer else []:
        part = _unquote_pointer(raw)
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return False, None
    return True, current


def _unquote_pointer(part: str) -> str:
    return unquote(part).replace("~1", "/").replace("~0", "~")


def _check_refs(document: Json) -> None:
    """Refuse external refs (never fetched), refs leading nowhere, and refs that lead only to
    refs in a circle (those have no content at all; a schema that contains itself further
    down is fine and is cut when built)."""
    for path, ref in _iter_refs(document, ("spec",)):
        where = f"{_where(path)}.$ref"
        if not ref.startswith("#"):
            raise OpenApiSpecError(
                f"{where}: external reference {ref!r} is not allowed (Ferry fetches nothing "
                "while reading a spec); put what it refers to under components"
            )
        seen = [ref]
        target_ref = ref
        while True:
            found, target = _pointer_target(document, target_ref)
            if not found:
                raise OpenApiSpecError(f"{where}: {target_ref!r} points to nothing in the spec")
            next_ref = target.get("$ref") if isinstance(target, dict) else None
            if not isinstance(next_ref, str) or not next_ref.startswith("#"):
                break
            if next_ref in seen:
                chain = " → ".join([*seen, next_ref])
                raise OpenApiSpecError(f"{where}: circular reference with no content: {chain}")
            seen.append(next_ref)
            target_ref = next_ref


class _RefuseAll(Mapping[str, Callable[[str], Any]]):
    """Resolver handlers for every URL scheme, each refusing: the validator never fetches."""

    def __getitem__(self, scheme: str) -> Callable[[str], Any]:
        return _refuse_fetch

    def __contains__(self, scheme: object) -> bool:
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def _refuse_fetch(uri: str) -> Any:
    raise OpenApiSpecError(
        f"the spec refers to {uri!r}; Ferry fetches nothing while reading a spec"
    )


def _validate(document: Json, version: str) -> None:
    """Two passes: the OpenAPI JSON schema with plain `jsonschema` (its errors can be explained
    well, whichever backend openapi-spec-validator picked), then openapi-spec-validator's
    checks beyond the schema (path parameters declared, operationIds unique, defaults that
    fit their schemas), with every URL scheme refused."""
    from openapi_spec_validator import OpenAPIV30SpecValidator

    best_match = _jsonschema("exceptions").best_match
    try:
        schema_error = best_match(_metaschema_validator(version).iter_errors(document))
        if schema_error is not None:
            where = _where(("spec", *schema_error.absolute_path))
            raise OpenApiSpecError(f"{where}: {_shorten(_schema_error_message(schema_error))}")
        error = next(iter(_spec_validator(version)(document).iter_errors()), None)
    except OpenApiSpecError:
        raise
    except RecursionError as exc:
        raise OpenApiSpecError("spec: too deeply nested or recursive to validate") from exc
    except Exception as exc:  # the validators are third-party and the input hostile
        raise OpenApiSpecError(
            f"spec: could not be validated: {type(exc).__name__}: {exc}"
        ) from exc
    finally:
        # openapi-spec-validator memoizes iter_errors per validator in a global unbounded
        # lru_cache: without this every spec ever checked would stay in memory.
        cache = getattr(OpenAPIV30SpecValidator.iter_errors, "__wrapped__", None)
        if cache is not None and hasattr(cache, "cache_clear"):
            cache.cache_clear()
    if error is not None:
        # These checks' paths are relative to what they checked (a schema, say), not always
        # to the document: only one that starts at a top-level key says where.
        path = list(error.absolute_path)
        where = _where(("spec", *path)) if path and path[0] in _ROOT_KEYS else "spec"
        message = str(error.message).split("\n\nFailed validating")[0]
        raise OpenApiSpecError(f"{where}: {_shorten(message)}")


@functools.cache
def _spec_validator(version: str) -> Any:
    """openapi-spec-validator's class for `version`, with every URL scheme refused."""
    from openapi_spec_validator import OpenAPIV30SpecValidator, OpenAPIV31SpecValidator

    base = OpenAPIV30SpecValidator if version == "3.0" else OpenAPIV31SpecValidator
    return type(f"NoFetch{base.__name__}", (base,), {"resolver_handlers": _RefuseAll()})


@functools.cache
def _metaschema_validator(version: str) -> Any:
    from openapi_spec_validator.schemas import schema_v30, schema_v31

    schema = dict(schema_v30 if version == "3.0" else schema_v31)
    return _jsonschema("validators").validator_for(schema)(schema)


def _jsonschema(module: str) -> Any:
    """A `jsonschema` module (openapi-spec-validator's own dependency), untyped on purpose:
    it ships no type information, and stubs may or may not be installed."""
    return importlib.import_module(f"jsonschema.{module}")


def _schema_error_message(error: Any) -> str:
    """jsonschema's message, except for oneOf/anyOf, whose own message only repeats the value:
    there the reasons each alternative gave are listed (enums merged; "it is no $ref" is
    dropped, being true of every inline object)."""
    if error.validator not in ("oneOf", "anyOf"):
        return str(error.message)
    if not error.context:
        return "fits more than one of the forms allowed here; something is missing"
    reasons: list[str] = []
    allowed: dict[tuple[Any, ...], list[Any]] = {}
    for sub in error.context:
        at = tuple(sub.relative_path)
        if sub.validator == "required" and "'$ref'" in sub.message:
            continue
        if sub.validator == "enum":
            allowed.setdefault(at, []).extend(sub.validator_value)
            continue
        reasons.append(f"{_where(at)}: {sub.message}" if at else str(sub.message))
    for at, values in allowed.items():
        value = _where(at)
        reasons.insert(0, f"{value}: must be one of {', '.join(map(str, dict.fromkeys(values)))}")
    if not reasons:
        return "is not valid here"
    return "; ".join(dict.fromkeys(reasons))


def _shorten(message: str, limit: int = 300) -> str:
    message = " ".join(message.split())
    return message if len(message) <= limit else message[:limit] + "…"


def _resolve_refs(document: Json, *, merge_siblings: bool) -> Json:
    import jsonref  # type: ignore[import-untyped]

    try:
        resolved = jsonref.replace_refs(
            document,
            loader=_refuse_fetch,
            proxies=False,
            lazy_load=False,
            merge_props=merge_siblings,
        )
    except RecursionError as exc:
        raise OpenApiSpecError("spec: $refs nest too deeply to resolve") from exc
    except jsonref.JsonRefError as exc:
        raise OpenApiSpecError(f"spec: {exc.message}") from exc
    assert isinstance(resolved, dict)
    return resolved


class _Budget:
    def __init__(self, where: str) -> None:
        self.left = MAX_SCHEMA_NODES
        self.where = where

    def take(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise OpenApiSpecError(
                f"{self.where}: the arguments' schema is too large (over {MAX_SCHEMA_NODES} "
                "nodes once $refs are resolved)"
            )


def _schema_copy(value: Any, budget: _Budget, stack: set[int] | None = None, depth: int = 0) -> Any:
    """A tree copy of a resolved schema: recursion (a schema met again inside itself) and
    excessive depth are cut with a note the model can read."""
    if not isinstance(value, dict | list):
        return value
    stack = stack if stack is not None else set()
    if id(value) in stack:
        return {"description": _RECURSION_NOTE}
    if depth >= MAX_SCHEMA_DEPTH:
        return {"description": _DEPTH_NOTE}
    budget.take()
    stack.add(id(value))
    try:
        if isinstance(value, list):
            return [_schema_copy(item, budget, stack, depth + 1) for item in value]
        return {key: _schema_copy(item, budget, stack, depth + 1) for key, item in value.items()}
    finally:
        stack.discard(id(value))


def _sanitize(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", text)


def _function_name(prefix: str, operation_id: str | None, method: str, path: str) -> str:
    if operation_id:
        suffix = operation_id
    else:
        words = re.sub(r"[^A-Za-z0-9]+", "_", path).strip("_")
        suffix = f"{method}_{words}" if words else method
    name = _sanitize(f"{prefix}_{suffix}")
    if len(name) > MAX_NAME:
        digest = hashlib.sha256(name.encode()).hexdigest()[:8]
        name = f"{name[: MAX_NAME - 9]}_{digest}"
    return name


def _server_url(servers: Any, where: str) -> str:
    if not isinstance(servers, list) or not servers:
        raise OpenApiSpecError(f"{where}: no servers; give one with an absolute http(s) URL")
    server = servers[0]
    url = server.get("url") if isinstance(server, dict) else None
    if not isinstance(url, str) or not url:
        raise OpenApiSpecError(f"{where}.0.url: missing")
    variables = server.get("variables") or {}

    def substitute(match: re.Match[str]) -> str:
        variable = variables.get(match.group(1)) if isinstance(variables, dict) else None
        default = variable.get("default") if isinstance(variable, dict) else None
        if not isinstance(default, str):
            raise OpenApiSpecError(f"{where}.0.url: variable {match.group(1)!r} has no default")
        return default

    absolute = re.sub(r"\{([^{}]*)\}", substitute, url)
    parts = urlsplit(absolute)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        what = "is relative" if not parts.scheme else "is not an http(s) URL"
        raise OpenApiSpecError(
            f"{where}.0.url: {url!r} {what}; Ferry needs an absolute http or https URL"
        )
    return absolute.rstrip("/")


def _description(operation: Json, method: str, path: str) -> str:
    parts: list[str] = []
    for key in ("summary", "description"):
        text = operation.get(key)
        if isinstance(text, str) and text.strip() and text.strip() not in parts:
            parts.append(text.strip())
    return "\n\n".join(parts) if parts else f"{method.upper()} {path}"


def _is_json_media(media_type: str) -> bool:
    base = media_type.split(";")[0].strip().lower()
    return base == "application/json" or base.endswith("+json")


def _pick_body_media(content: Json) -> str | None:
    """JSON first, then forms, then text; anything else (files, multipart) is not sent."""
    types = list(content)
    for media in types:
        if _is_json_media(media):
            return media
    for media in types:
        if media.split(";")[0].strip().lower() == "application/x-www-form-urlencoded":
            return media
    for media in types:
        if media.split(";")[0].strip().lower().startswith("text/"):
            return media
    return None


def _security_names(requirements: Any) -> tuple[str, ...]:
    names: list[str] = []
    if isinstance(requirements, list):
        for requirement in requirements:
            if isinstance(requirement, dict):
                names.extend(name for name in requirement if name not in names)
    return tuple(names)


class _OperationBuilder:
    """Builds one operation's argument schema and bindings, keeping keys unique."""

    def __init__(self, where: str, hidden: frozenset[str]) -> None:
        self.where = where
        self.hidden = hidden
        self.budget = _Budget(where)
        self.properties: Json = {}
        self.required: list[str] = []
        self.bindings: list[Parameter] = []
        self.keys: set[str] = set()

    def key_for(self, name: str, location: str) -> str:
        key = name
        if key in self.keys:
            key = f"{location}_{name}"
        if key in self.keys:
            raise OpenApiSpecError(f"{self.where}: two arguments would both be called {key!r}")
        self.keys.add(key)
        return key

    def add_parameter(self, parameter: Json) -> None:
        name, location = parameter["name"], parameter["in"]
        if location == "header" and name.lower() in _IGNORED_HEADERS:
            return  # OpenAPI: such header parameters are ignored
        json_text = False
        schema: Any = parameter.get("schema")
        if schema is None and isinstance(parameter.get("content"), dict) and parameter["content"]:
            media = next(iter(parameter["content"].values()))
            schema = media.get("schema", {}) if isinstance(media, dict) else {}
            json_text = True
        schema = _schema_copy(schema if schema is not None else {}, self.budget)
        if isinstance(schema, dict):
            description = parameter.get("description")
            if isinstance(description, str) and description and "description" not in schema:
                schema = {**schema, "description": description}
        default_style = "form" if location in ("query", "cookie") else "simple"
        style = parameter.get("style") or default_style
        explode = parameter.get("explode")
        has_default = isinstance(schema, dict) and "default" in schema
        hidden = name in self.hidden and has_default
        required = bool(parameter.get("required")) or location == "path"
        key = self.key_for(name, location)
        self.bindings.append(
            Parameter(
                key=key,
                name=name,
                location=location,
                required=required,
                style=style,
                explode=explode if isinstance(explode, bool) else style == "form",
                json_text=json_text,
                has_default=has_default,
                default=schema["default"] if has_default else None,
                hidden=hidden,
            )
        )
        if hidden:
            return
        self.properties[key] = schema
        if required:
            self.required.append(key)

    def add_body(self, body: Json, where: str) -> None:
        content = body.get("content")
        media = _pick_body_media(content) if isinstance(content, dict) else None
        required = bool(body.get("required"))
        if media is None:
            if required:
                found = ", ".join(content) if isinstance(content, dict) else "none"
                raise OpenApiSpecError(
                    f"{where}.content: no media type Ferry can send (JSON, form or text); "
                    f"found {found}"
                )
            return
        assert isinstance(content, dict)
        media_object = content[media] if isinstance(content[media], dict) else {}
        schema = _schema_copy(media_object.get("schema", {}), self.budget)
        if isinstance(schema, dict):
            description = body.get("description")
            if isinstance(description, str) and description and "description" not in schema:
                schema = {**schema, "description": description}
        key = self.key_for("body", "body")
        self.bindings.append(
            Parameter(key=key, name="body", location="body", required=required, media_type=media)
        )
        self.properties[key] = schema
        if required:
            self.required.append(key)

    def schema(self) -> Json:
        out: Json = {"type": "object", "properties": self.properties}
        if self.required:
            out["required"] = list(self.required)
        return out


def _build_operations(prefix: str, spec: Json, hidden: frozenset[str]) -> list[Operation]:
    paths = spec.get("paths") or {}
    components = spec.get("components") or {}
    schemes = components.get("securitySchemes") or {}
    schemes = dict(schemes) if isinstance(schemes, dict) else {}
    root_security = spec.get("security")
    count = sum(
        1
        for item in paths.values()
        if isinstance(item, dict)
        for method in _METHODS
        if isinstance(item.get(method), dict)
    )
    if count == 0:
        raise OpenApiSpecError("spec.paths: no operations; the tool would offer no function")
    if count > MAX_OPERATIONS:
        raise OpenApiSpecError(
            f"spec.paths: {count} operations; a tool may offer at most {MAX_OPERATIONS}"
        )
    operations: list[Operation] = []
    by_name: dict[str, str] = {}
    for path, item in paths.items():
        if not isinstance(item, dict):
            continue
        for method in _METHODS:
            operation = item.get(method)
            if not isinstance(operation, dict):
                continue
            where = _where(("spec", "paths", path, method))
            built = _build_operation(
                prefix, path, method, item, operation, where, hidden, spec, schemes, root_security
            )
            if built.name in by_name:
                raise OpenApiSpecError(
                    f"{where}: its function name {built.name!r} is also that of "
                    f"{by_name[built.name]}; give the operations distinct operationIds"
                )
            by_name[built.name] = where
            operations.append(built)
    return operations


def _build_operation(
    prefix: str,
    path: str,
    method: str,
    item: Json,
    operation: Json,
    where: str,
    hidden: frozenset[str],
    spec: Json,
    schemes: Json,
    root_security: Any,
) -> Operation:
    if operation.get("servers"):
        server = _server_url(operation["servers"], f"{where}.servers")
    elif item.get("servers"):
        server = _server_url(item["servers"], _where(("spec", "paths", path, "servers")))
    else:
        server = _server_url(spec.get("servers"), "spec.servers")
    merged: dict[tuple[str, str], Json] = {}
    for parameter in [*(item.get("parameters") or []), *(operation.get("parameters") or [])]:
        if isinstance(parameter, dict) and parameter.get("in") in _LOCATIONS:
            merged[(parameter["in"], parameter["name"])] = parameter
    builder = _OperationBuilder(where, hidden)
    for location in _LOCATIONS:  # path first: the keys the model sees follow the URL
        for (param_in, _), parameter in merged.items():
            if param_in == location:
                builder.add_parameter(parameter)
    body = operation.get("requestBody")
    if isinstance(body, dict):
        builder.add_body(body, f"{where}.requestBody")
    operation_id = operation.get("operationId")
    operation_id = operation_id if isinstance(operation_id, str) and operation_id else None
    security = operation.get("security", root_security)
    return Operation(
        name=_function_name(prefix, operation_id, method, path),
        description=_description(operation, method, path),
        parameters=builder.schema(),
        method=method.upper(),
        path=path,
        server=server,
        operation_id=operation_id,
        bindings=tuple(builder.bindings),
        security=_security_names(security),
        security_schemes=schemes,
    )


# -- auth ----------------------------------------------------------------------------------------

TokenSource = Callable[[], Awaitable[str]]
"""Gives a bearer token for each call (it should cache and refresh on its own)."""
ConnectionSecret = Callable[[str], Awaitable[str]]
"""connection_id → that connection's API key."""
IdentityToken = Callable[[str], Awaitable[str]]
"""audience → a bearer token from Ferry's identity service."""


@dataclass(frozen=True)
class Auth:
    """How calls authenticate: nothing, an API key placed as the spec says, or a bearer
    token asked for at each call (tokens expire; the source decides when to renew)."""

    kind: str = "anonymous"
    """ "anonymous", "api_key" or "bearer"."""
    location: str = ""
    """api_key: "header", "query" or "cookie"."""
    name: str = ""
    """api_key: the header, query parameter or cookie name."""
    value: str = field(default="", repr=False)
    """api_key: the key."""
    token_source: TokenSource | None = field(default=None, repr=False)
    """bearer: where each call's token comes from."""

    def __post_init__(self) -> None:
        if self.kind == "api_key":
            if self.location not in ("header", "query", "cookie") or not self.name:
                raise OpenApiAuthError("an api_key auth needs a location and a name")
        elif self.kind == "bearer":
            if self.token_source is None:
                raise OpenApiAuthError("a bearer auth needs a token source")
        elif self.kind != "anonymous":
            raise OpenApiAuthError(f"unknown auth kind {self.kind!r}")

    @classmethod
    def anonymous(cls) -> Auth:
        return cls()

    @classmethod
    def api_key(cls, location: str, name: str, value: str) -> Auth:
        return cls(kind="api_key", location=location, name=name, value=value)

    @classmethod
    def bearer(cls, token_source: TokenSource) -> Auth:
        return cls(kind="bearer", token_source=token_source)


async def auth_from_tool(
    auth: Any,
    operations: Sequence[Operation],
    *,
    connection_secret: ConnectionSecret | None = None,
    identity_token: IdentityToken | None = None,
) -> Auth:
    """Turn a tool's declared auth into an `Auth`.

    ``{"type": "anonymous"}`` (or none): nothing. ``{"type": "connection", "security_scheme":
    {"connection_id": ...}}``: `connection_secret` gives the key, placed as the spec's first
    usable security scheme says: schemes the operations require come first (in order), then
    the rest of `components.securitySchemes`; an `apiKey` scheme gives its place and name, an
    ``http`` ``bearer`` scheme sends the key as a bearer token. ``{"type":
    "managed_identity", "security_scheme": {"audience": ...}}``: each call gets a bearer token
    for that audience from `identity_token`. A resolver that fails raises `OpenApiAuthError`.
    """
    if auth is None:
        return Auth.anonymous()
    if not isinstance(auth, Mapping):
        raise OpenApiAuthError(f"auth must be an object, not {_json_type(auth)}")
    kind = auth.get("type")
    scheme = auth.get("security_scheme")
    scheme = scheme if isinstance(scheme, Mapping) else {}
    if kind == "anonymous":
        return Auth.anonymous()
    if kind == "connection":
        connection_id = scheme.get("connection_id")
        if not isinstance(connection_id, str) or not connection_id:
            raise OpenApiAuthError("auth.security_scheme.connection_id: missing")
        if connection_secret is None:
            raise OpenApiAuthError("connection auth is not available here (no resolver)")
        placement = _key_placement(operations)
        try:
            secret = await connection_secret(connection_id)
        except Exception as exc:
            raise OpenApiAuthError(f"connection {connection_id!r}: {exc}") from exc
        if placement is None:
            return Auth.bearer(functools.partial(_constant, secret))
        return Auth.api_key(placement[0], placement[1], secret)
    if kind == "managed_identity":
        audience = scheme.get("audience")
        if not isinstance(audience, str) or not audience:
            raise OpenApiAuthError("auth.security_scheme.audience: missing")
        if identity_token is None:
            raise OpenApiAuthError("managed identity auth is not available here (no resolver)")
        return Auth.bearer(functools.partial(identity_token, audience))
    raise OpenApiAuthError(
        f"auth.type: {kind!r} is not one of anonymous, connection, managed_identity"
    )


async def _constant(value: str) -> str:
    return value


def _key_placement(operations: Sequence[Operation]) -> tuple[str, str] | None:
    """(location, name) of the first usable scheme; None for an http bearer scheme."""
    schemes = operations[0].security_schemes if operations else {}
    order: list[str] = []
    for operation in operations:
        order.extend(name for name in operation.security if name not in order)
    order.extend(name for name in schemes if name not in order)
    for name in order:
        scheme = schemes.get(name)
        if not isinstance(scheme, dict):
            continue
        if scheme.get("type") == "apiKey" and scheme.get("in") in ("header", "query", "cookie"):
            return str(scheme["in"]), str(scheme["name"])
        if scheme.get("type") == "http" and str(scheme.get("scheme", "")).lower() == "bearer":
            return None
    raise OpenApiAuthError(
        "connection auth needs an apiKey (or http bearer) security scheme in the spec's "
        "components.securitySchemes, to know where the key goes"
    )


# -- calls ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallResult:
    """What the model is shown for one call."""

    output: str
    status: int | None
    """The HTTP status; None when no response came (or no request was sent)."""
    is_error: bool


class _ArgumentError(Exception):
    """An argument cannot be put on the wire; reported to the model."""


class OpenApiCaller:
    """Makes operations' requests with httpx, within limits, never raising for the callee.

    Limits: `timeout` seconds for the whole call (token, connection, request, the body
    read); at most `max_response_bytes` of the (decoded) body are read, then the connection
    is dropped and the output says it was truncated. Redirects are not followed. A `client`
    given is used as it is and not closed; otherwise the caller makes one (close it with
    `aclose` or use ``async with``).
    """

    def __init__(
        self,
        *,
        timeout: float = 30.0,
        max_response_bytes: int = 1_000_000,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        if timeout <= 0 or max_response_bytes <= 0:
            raise ValueError("timeout and max_response_bytes must be positive")
        self.timeout = timeout
        self.max_response_bytes = max_response_bytes
        self._client = client
        self._owns_client = client is None

    async def __aenter__(self) -> OpenApiCaller:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(follow_redirects=False, timeout=self.timeout)
        return self._client

    async def call(self, operation: Operation, arguments: dict[str, Any], auth: Auth) -> CallResult:
        """Make one call; every failure becomes an error result the model can read."""
        if not isinstance(arguments, dict):
            return _error(
                f"{operation.name}: the arguments must be a JSON object, not "
                f"{_json_type(arguments)}. {_NO_REQUEST}"
            )
        missing = [
            b.key
            for b in operation.bindings
            if b.required and arguments.get(b.key) is None and not b.has_default
        ]
        if missing:
            return _error(
                f"{operation.name}: missing required argument(s): {', '.join(missing)}. "
                + _NO_REQUEST
            )
        try:
            request = _build_request(operation, arguments)
        except _ArgumentError as exc:
            return _error(f"{operation.name}: {exc}. {_NO_REQUEST}")
        label = f"{operation.method} {operation.server}{operation.path}"
        try:
            async with asyncio.timeout(self.timeout):
                if not await self._authenticate(request, auth):
                    return _error(f"{label}: no token could be had for the call. {_NO_REQUEST}")
                return await self._send(operation, request)
        except (TimeoutError, httpx.TimeoutException):
            return _error(f"{label} timed out after {self.timeout:g} s")
        except httpx.ConnectError as exc:
            return _error(f"{label} failed: could not connect: {_cause(exc)}")
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            return _error(f"{label} failed: {type(exc).__name__}: {_cause(exc)}")
        except (ValueError, UnicodeError) as exc:  # httpx refusing a header, URL or body
            return _error(f"{label}: the request could not be made: {exc}")

    async def _authenticate(self, request: _Request, auth: Auth) -> bool:
        if auth.kind == "api_key":
            if auth.location == "header":
                request.headers[auth.name] = auth.value
            elif auth.location == "query":
                request.query.append((auth.name, auth.value))
            else:
                request.cookies.append((auth.name, auth.value))
        elif auth.kind == "bearer" and auth.token_source is not None:
            try:
                token = await auth.token_source()
            except TimeoutError:
                raise
            except Exception:
                log.warning("openapi: the token source failed", exc_info=True)
                return False
            request.headers["Authorization"] = f"Bearer {token}"
        return True

    async def _send(self, operation: Operation, request: _Request) -> CallResult:
        headers = dict(request.headers)
        if request.cookies:
            headers["Cookie"] = "; ".join(f"{n}={quote(v, safe='')}" for n, v in request.cookies)
        client = self._http()
        async with client.stream(
            operation.method,
            request.url,
            params=request.query,
            headers=headers,
            content=request.content,
            follow_redirects=False,
            timeout=self.timeout,
        ) as response:
            body, truncated = await self._read(response)
        return self._result(response, body, truncated)

    async def _read(self, response: httpx.Response) -> tuple[bytes, bool]:
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            room = self.max_response_bytes - size
            if len(chunk) > room:
                chunks.append(chunk[:room])
                return b"".join(chunks), True
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks), False

    def _result(self, response: httpx.Response, body: bytes, truncated: bool) -> CallResult:
        status = response.status_code
        reason = response.reason_phrase or _phrase(status)
        text = _decode(body, response.charset_encoding, final=not truncated)
        if not truncated and _is_json_media(response.headers.get("content-type", "")):
            text = _compact_json(text)
        if 200 <= status < 300:
            if truncated:
                text += f"\n[Ferry: the response was truncated at {self.max_response_bytes} bytes]"
            elif not text:
                text = f"HTTP {status} {reason} (empty body)"
            return CallResult(output=text, status=status, is_error=False)
        if 300 <= status < 400:
            location = response.headers.get("location", "")
            where = f" to {location}" if location else ""
            return CallResult(
                output=f"HTTP {status} {reason}: redirect{where} not followed (Ferry does not "
                "follow redirects of OpenAPI calls)",
                status=status,
                is_error=True,
            )
        excerpt = text.strip()
        if len(excerpt) > ERROR_EXCERPT or truncated:
            excerpt = excerpt[:ERROR_EXCERPT] + "…"
        return CallResult(
            output=f"HTTP {status} {reason}: {excerpt or '(empty body)'}",
            status=status,
            is_error=True,
        )


def _error(output: str) -> CallResult:
    return CallResult(output=output, status=None, is_error=True)


def _cause(exc: BaseException) -> str:
    """The root cause in words: httpx wraps anyio's "All connection attempts failed", which
    wraps the OSError that says what happened (refused, unknown host, unreachable)."""
    text = str(exc) or type(exc).__name__
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError):
            if isinstance(current.errno, int) and current.errno > 0:
                return f"{os.strerror(current.errno)} ({text})"
            if current.strerror:
                return f"{current.strerror} ({text})"
        current = current.__cause__ or current.__context__
    return text


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return ""


def _decode(body: bytes, charset: str | None, *, final: bool) -> str:
    try:
        decoder = codecs.getincrementaldecoder(charset or "utf-8")(errors="replace")
    except LookupError:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    return str(decoder.decode(body, final=final))


def _compact_json(text: str) -> str:
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# -- building requests ---------------------------------------------------------------------------


@dataclass
class _Request:
    url: str
    query: list[tuple[str, str | int | float | bool | None]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    cookies: list[tuple[str, str]] = field(default_factory=list)
    content: bytes | None = None


def _build_request(operation: Operation, arguments: Json) -> _Request:
    path_values: dict[str, str] = {}
    request = _Request(url="")
    for binding in operation.bindings:
        value = binding.default if binding.hidden else arguments.get(binding.key)
        if value is None:
            if not (binding.required and binding.has_default):
                continue
            value = binding.default
        if binding.location == "body":
            request.content, content_type = _body(binding, value)
            request.headers["Content-Type"] = content_type
        elif binding.json_text:
            text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
            _place(request, path_values, binding, text)
        else:
            _place(request, path_values, binding, value)
    request.url = operation.server + _expand_path(operation.path, path_values)
    return request


def _place(request: _Request, path_values: dict[str, str], binding: Parameter, value: Any) -> None:
    if binding.location == "path":
        path_values[binding.name] = _path_value(binding, value)
    elif binding.location == "query":
        request.query.extend(_query_pairs(binding, value))
    elif binding.location == "header":
        request.headers[binding.name] = _simple(value, binding.explode)
    else:
        request.cookies.append((binding.name, _simple(value, explode=False)))


def _body(binding: Parameter, value: Any) -> tuple[bytes, str]:
    media = binding.media_type
    if _is_json_media(media):
        try:
            return json.dumps(value, ensure_ascii=False).encode(), media
        except (TypeError, ValueError) as exc:
            raise _ArgumentError(f"the body cannot be sent as JSON: {exc}") from exc
    if media.split(";")[0].strip().lower() == "application/x-www-form-urlencoded":
        if not isinstance(value, dict):
            raise _ArgumentError("the body must be an object (it is sent as a form)")
        return urlencode([(str(k), _scalar(v)) for k, v in value.items()]).encode(), media
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text.encode(), media


def _scalar(value: Any) -> str:
    """One value as text: JSON's spelling for booleans and null, JSON for nested values."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return json.dumps(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _simple(value: Any, explode: bool) -> str:
    """OpenAPI's `simple` style: arrays and objects comma-separated."""
    if isinstance(value, list):
        return ",".join(_scalar(item) for item in value)
    if isinstance(value, dict):
        if explode:
            return ",".join(f"{k}={_scalar(v)}" for k, v in value.items())
        return ",".join(f"{k},{_scalar(v)}" for k, v in value.items())
    return _scalar(value)


def _path_value(binding: Parameter, value: Any) -> str:
    def encode(text: str) -> str:
        encoded = quote(text, safe="")
        # "." and ".." would be read as path steps and normalized away
        return encoded.replace(".", "%2E") if encoded in (".", "..") else encoded

    if binding.style == "label":
        separator = "." if binding.explode else ","
        items = _items(value)
        return "." + separator.join(encode(item) for item in items)
    if binding.style == "matrix":
        items = _items(value)
        if binding.explode and isinstance(value, list):
            return "".join(f";{binding.name}={encode(item)}" for item in items)
        return f";{binding.name}=" + ",".join(encode(item) for item in items)
    if isinstance(value, list | dict):
        return ",".join(encode(item) for item in _simple(value, binding.explode).split(","))
    return encode(_scalar(value))


def _items(value: Any) -> list[str]:
    if isinstance(value, list):
        return [_scalar(item) for item in value]
    if isinstance(value, dict):
        return [part for k, v in value.items() for part in (str(k), _scalar(v))]
    return [_scalar(value)]


def _query_pairs(binding: Parameter, value: Any) -> list[tuple[str, str]]:
    name = binding.name
    if binding.style == "deepObject" and isinstance(value, dict):
        return [(f"{name}[{k}]", _scalar(v)) for k, v in value.items()]
    if isinstance(value, list):
        if binding.explode:
            return [(name, _scalar(item)) for item in value]
        separator = {"spaceDelimited": " ", "pipeDelimited": "|"}.get(binding.style, ",")
        return [(name, separator.join(_scalar(item) for item in value))]
    if isinstance(value, dict):
        if binding.explode:
            return [(str(k), _scalar(v)) for k, v in value.items()]
        return [(name, ",".join(f"{k},{_scalar(v)}" for k, v in value.items()))]
    return [(name, _scalar(value))]


def _expand_path(template: str, values: Mapping[str, str]) -> str:
    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise _ArgumentError(f"no value for the path parameter {name!r}")
        return values[name]

    return re.sub(r"\{([^{}]+)\}", substitute, template)
