"""The Azure Storage Queue protocol as an ASGI application.

Every request goes the same way: find the account (path-style `/<account>/…`, or host-style
`<account>.<host>`), check `x-ms-version`, name the operation, authenticate, only then read the
body (bounded), run the handler, and stamp the protocol's headers on whatever comes back.
Anything raised on the way becomes the protocol's XML error in `ferry.queues.wire`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import uuid
from collections.abc import AsyncIterator
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount
from starlette.types import Receive, Scope, Send

from ferry import __version__
from ferry.clock import Clock, system_clock
from ferry.queues.auth import Accounts, Authenticator, TokenVerifier
from ferry.queues.auth.accounts import Account
from ferry.queues.auth.request import SignedRequest, parse_query
from ferry.queues.call import Call
from ferry.queues.cors import cors_headers, preflight
from ferry.queues.errors import (
    InvalidHeaderValue,
    InvalidQueryParameterValue,
    InvalidUri,
    QueueNotFound,
    RequestBodyTooLarge,
    ResourceNotFound,
)
from ferry.queues.models import AccessPolicy
from ferry.queues.names import check_queue_name
from ferry.queues.routing import resolve, split_path, target_of
from ferry.queues.store import QueueStore
from ferry.queues.times import rfc1123
from ferry.queues.wire import error_response, to_queue_error

__all__ = ["DEFAULT_VERSION", "QueueService", "build_app"]

log = logging.getLogger(__name__)

DEFAULT_VERSION = "2026-10-06"
"""The version answered when a request names none."""

_VERSION = re.compile(r"\d{4}-\d{2}-\d{2}")
_SERVER = f"Ferry-Queue/{__version__}"
_SECONDARY = "-secondary"


class QueueService:
    """Serves the queue protocol for `accounts` from `store`."""

    def __init__(
        self,
        store: QueueStore,
        accounts: Accounts,
        *,
        tokens: TokenVerifier | None = None,
        clock: Clock = system_clock,
    ) -> None:
        self.store = store
        self.accounts = accounts
        self.clock = clock
        self.authenticator = Authenticator(accounts, self._policy, tokens=tokens, clock=clock)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        response = await self.handle(request)
        await response(scope, receive, send)

    async def handle(self, request: Request) -> Response:
        request_id = str(uuid.uuid4())
        version = request.headers.get("x-ms-version")
        try:
            response = await self._serve(request, version)
        except Exception as exc:
            error = to_queue_error(exc)
            response = error_response(
                error, request_id, self.clock(), head=request.method == "HEAD"
            )
        origin = request.headers.get("origin")
        if origin and request.method != "OPTIONS":
            await self._add_cors(response, request, origin)
        headers = response.headers
        if request.method in ("GET", "HEAD") and response.status_code == 200:
            headers["Cache-Control"] = "no-cache"
        headers["x-ms-request-id"] = request_id
        headers["x-ms-version"] = (
            version if version and _VERSION.fullmatch(version) else DEFAULT_VERSION
        )
        headers["Date"] = rfc1123(self.clock())
        headers["Server"] = _SERVER
        client_request_id = request.headers.get("x-ms-client-request-id")
        if client_request_id is not None:
            headers["x-ms-client-request-id"] = client_request_id[:1024]
        return response

    async def _serve(self, request: Request, version: str | None) -> Response:
        scope = request.scope
        raw_path = _raw_path(scope)
        account, segments, prefix = self._locate(raw_path, request.headers.get("host", ""))
        if version is not None and not _VERSION.fullmatch(version):
            raise InvalidHeaderValue("x-ms-version", version)
        if request.method == "OPTIONS":
            return await preflight(self.store, account.name, request.headers)
        target = target_of(segments)
        if target.queue is not None:
            check_queue_name(target.queue)
        pairs = parse_query(scope.get("query_string", b"").decode("latin-1"))
        query = dict(pairs)
        _check_timeout(query)
        operation = resolve(target, request.method, query)
        signed = SignedRequest(
            method=request.method,
            raw_path=raw_path,
            query=pairs,
            headers=_joined_headers(scope),
            scheme=scope.get("scheme", "http"),
            client_ip=request.client.host if request.client else None,
        )
        await self.authenticator.authenticate(signed, account, target.queue, operation.access)
        body = await _read_body(request, operation.max_body) if operation.max_body else b""
        call = Call(
            store=self.store,
            clock=self.clock,
            method=request.method,
            account=account.name,
            queue=target.queue,
            message_id=target.message_id,
            query=query,
            headers=request.headers,
            body=body,
            endpoint=f"{scope.get('scheme', 'http')}://{request.headers.get('host', '')}{prefix}/",
            version=_served_version(version, pairs),
        )
        return await operation.handler(call)

    async def _add_cors(self, response: Response, request: Request, origin: str) -> None:
        """CORS headers on every answer to a cross-origin request, refusals included (a
        browser shows its page nothing of a response without them). Nothing is added when
        the account cannot be told or its rules cannot be read: the answer stands as it is."""
        try:
            account, _, _ = self._locate(_raw_path(request.scope), request.headers.get("host", ""))
            extra = await cors_headers(self.store, account.name, origin, request.method)
        except Exception:
            log.debug("no CORS headers for this answer", exc_info=True)
            return
        response.headers.update(extra)

    def _locate(self, raw_path: str, host: str) -> tuple[Account, list[str], str]:
        """The account, the path segments after it, and the path prefix naming it."""
        first, rest = split_path(raw_path)
        if first in self.accounts:
            return self.accounts[first], rest, f"/{quote(first)}"
        # `<account>-secondary` is the read-only secondary endpoint, served from the same data.
        primary = first.removesuffix(_SECONDARY)
        if first.endswith(_SECONDARY) and primary in self.accounts:
            return self.accounts[primary], rest, f"/{quote(first)}"
        label = host.split(".", 1)[0].split(":", 1)[0]
        primary = label.removesuffix(_SECONDARY)
        if "." in host and primary in self.accounts:
            segments = ([first] if first else []) + rest
            return self.accounts[primary], segments, ""
        if not first:
            raise InvalidUri()
        raise ResourceNotFound(f"The storage account {first!r} does not exist.")

    async def _policy(self, account: str, queue: str, identifier: str) -> AccessPolicy | None:
        try:
            policies = await self.store.get_access_policies(account, queue)
        except QueueNotFound:
            return None
        return next((p for p in policies if p.id == identifier), None)


def _served_version(header: str | None, query: list[tuple[str, str]]) -> str:
    """`x-ms-version` when valid; a request authorized by a SAS alone may leave it out, and is
    then served by the SAS's own version (`sv`), as the service does."""
    if header and _VERSION.fullmatch(header):
        return header
    signed = next((value for name, value in query if name == "sv"), None)
    if signed and _VERSION.fullmatch(signed):
        return signed
    return DEFAULT_VERSION


def _raw_path(scope: Scope) -> str:
    raw = scope.get("raw_path")
    if raw:
        return bytes(raw).decode("latin-1").split("?", 1)[0]
    return quote(scope["path"])


def _joined_headers(scope: Scope) -> dict[str, str]:
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    return headers


def _check_timeout(query: dict[str, str]) -> None:
    """`timeout` (seconds the client allows) is accepted on every operation; Ferry answers
    well within any, but a malformed one is still an error."""
    value = query.get("timeout")
    if value is not None and not value.isdigit():
        raise InvalidQueryParameterValue("timeout", value)


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refused before it is read if it declares more than `limit`, and cut off as
    soon as it sends more."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise InvalidHeaderValue("Content-Length", declared)
        if int(declared) > limit:
            raise RequestBodyTooLarge(limit)
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestBodyTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def build_app(service: QueueService, *, purge_interval: float = 5.0) -> Starlette:
    """The service as a Starlette app that also sweeps expired messages while it runs."""

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        sweeper = asyncio.create_task(_sweep(service.store, purge_interval))
        try:
            yield
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper

    return Starlette(routes=[Mount("/", app=service)], lifespan=lifespan)


async def _sweep(store: QueueStore, interval: float) -> None:
    """Delete expired messages in small chunks, so requests never wait behind a big delete."""
    while True:
        await asyncio.sleep(interval)
        try:
            while await store.purge_expired(limit=1000) == 1000:
                await asyncio.sleep(0)
        except Exception:
            log.exception("sweeping expired messages failed; will try again")
