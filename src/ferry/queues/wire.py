"""Responses on the wire, and the one place where errors become the protocol's XML errors."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from starlette.responses import Response

from ferry.queues.bodies import DECLARATION, escape
from ferry.queues.errors import InternalError, QueueServiceError, ServerBusy
from ferry.queues.times import iso8601_7
from ferry.store.errors import StoreError, StoreUnavailable

__all__ = ["KEEP_CASE", "empty", "error_response", "to_queue_error", "xml"]

log = logging.getLogger(__name__)

XML_TYPE = "application/xml"


def xml(body: str, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(body.encode("utf-8"), status, dict(headers or {}), XML_TYPE)


KEEP_CASE = "x-ferry-keep-case"
"""A response header naming (comma-separated) the headers whose names must reach the client
in the case given: `ferry.serving`'s writer restores their case and drops this header.
(ASGI servers lower every response header name; storage metadata names are the user's.)"""


def empty(status: int, headers: Mapping[str, str] | None = None) -> Response:
    """A bodiless answer. Header names keep their case: clients read metadata names
    (`x-ms-meta-CamelCase`) from them, which Starlette and the HTTP writer would lowercase."""
    response = Response(b"", status)
    given = dict(headers or {})
    response.raw_headers.extend(
        (name.encode("latin-1"), value.encode("latin-1")) for name, value in given.items()
    )
    cased = [name for name in given if name != name.lower()]
    if cased:
        response.raw_headers.append((KEEP_CASE.encode(), ",".join(cased).encode("latin-1")))
    return response


def to_queue_error(exc: BaseException) -> QueueServiceError:
    """Anything raised while serving a request, as the refusal the client will see."""
    if isinstance(exc, QueueServiceError):
        return exc
    if isinstance(exc, StoreUnavailable):
        log.warning("store unavailable: %s", exc)
        return ServerBusy()
    if isinstance(exc, StoreError):
        log.error("store error: %s", exc)
        return InternalError()
    log.exception("unexpected error while serving a queue request", exc_info=exc)
    return InternalError()


def error_response(
    exc: QueueServiceError, request_id: str, now_millis: int, *, head: bool = False
) -> Response:
    """`<Error><Code/><Message/>…</Error>` with `x-ms-error-code`; the message ends with the
    request id and time, as the service writes it. HEAD answers carry no body."""
    message = f"{exc.message}\nRequestId:{request_id}\nTime:{iso8601_7(now_millis)}"
    details = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in exc.details.items())
    body = (
        f"{DECLARATION}<Error><Code>{exc.code}</Code>"
        f"<Message>{escape(message)}</Message>{details}</Error>"
    )
    headers = {"x-ms-error-code": exc.code, **exc.headers}
    if head:
        return Response(b"", exc.status, headers)
    return xml(body, exc.status, headers)
