"""CORS for browser clients, driven by the account's service properties.

A preflight (`OPTIONS`) needs no credentials: it is answered from the first rule whose origins
and methods match; if that rule does not allow every requested header, the preflight fails
(later rules are not tried), as in the service. Every other answer to a request with an
`Origin` header, refusals included, gets `Access-Control-Allow-Origin` and
`Access-Control-Expose-Headers` from the first matching rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.responses import Response

from ferry.queues.errors import CorsPreflightFailure, InvalidHeaderValue
from ferry.queues.store import QueueStore

__all__ = ["cors_headers", "preflight"]


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _rules(properties: Mapping[str, Any] | None) -> list[dict[str, str]]:
    rules = (properties or {}).get("Cors")
    return [rule for rule in rules if isinstance(rule, dict)] if isinstance(rules, list) else []


def _origin_allowed(rule: Mapping[str, str], origin: str) -> bool:
    origins = _split(rule.get("AllowedOrigins", ""))
    return "*" in origins or origin in origins


def _method_allowed(rule: Mapping[str, str], method: str) -> bool:
    return method.upper() in {m.upper() for m in _split(rule.get("AllowedMethods", ""))}


def _headers_allowed(rule: Mapping[str, str], requested: list[str]) -> bool:
    allowed = [h.lower() for h in _split(rule.get("AllowedHeaders", ""))]
    if "*" in allowed:
        return True
    literal = {h for h in allowed if not h.endswith("*")}
    prefixes = [h[:-1] for h in allowed if h.endswith("*")]
    return all(
        h.lower() in literal or any(h.lower().startswith(p) for p in prefixes) for h in requested
    )


async def preflight(store: QueueStore, account: str, headers: Mapping[str, str]) -> Response:
    origin = headers.get("origin")
    method = headers.get("access-control-request-method")
    if not origin or not method:
        missing = "Origin" if not origin else "Access-Control-Request-Method"
        error = InvalidHeaderValue(missing, "")
        error.message = "A required CORS header is not present."
        raise error
    requested = _split(headers.get("access-control-request-headers", ""))
    for rule in _rules(await store.get_service_properties(account)):
        if _origin_allowed(rule, origin) and _method_allowed(rule, method):
            if not _headers_allowed(rule, requested):
                break
            answer = {
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Allow-Methods": method,
                "Access-Control-Max-Age": rule.get("MaxAgeInSeconds", "0"),
                "Access-Control-Allow-Credentials": "true",
            }
            if requested:
                answer["Access-Control-Allow-Headers"] = ",".join(requested)
            return Response(b"", 200, answer)
    raise CorsPreflightFailure()


async def cors_headers(store: QueueStore, account: str, origin: str, method: str) -> dict[str, str]:
    """Headers for the answer to an ordinary cross-origin request, success or refusal.

    From the first rule matching origin and method: `Access-Control-Allow-Origin` (the origin,
    or `*` for a rule allowing all), the rule's exposed headers, and for a named origin
    `Access-Control-Allow-Credentials`. `Vary: Origin` tells caches that the answer depends on
    the origin; the service sends it on GET and HEAD answers only (no other is cached), when
    the origin matched by name or when rules exist and none matched.
    """
    rules = _rules(await store.get_service_properties(account))
    cacheable = method.upper() in ("GET", "HEAD")
    for rule in rules:
        if _origin_allowed(rule, origin) and _method_allowed(rule, method):
            wildcard = "*" in _split(rule.get("AllowedOrigins", ""))
            headers = {"Access-Control-Allow-Origin": "*" if wildcard else origin}
            exposed = rule.get("ExposedHeaders", "")
            if exposed:
                headers["Access-Control-Expose-Headers"] = exposed
            if not wildcard:
                headers["Access-Control-Allow-Credentials"] = "true"
                if cacheable:
                    headers["Vary"] = "Origin"
            return headers
    return {"Vary": "Origin"} if rules and cacheable else {}
