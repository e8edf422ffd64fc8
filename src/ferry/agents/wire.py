"""Errors on the wire: every failure of an agents API request becomes one JSON shape.

`{"error": {"code", "message", "type", "param"}}`: `code` and `message` are what the Azure SDKs
read; `type` and `param` are what the `openai` client reads.
"""

from __future__ import annotations

import logging

from starlette.responses import JSONResponse

from ferry.agents.errors import (
    AgentsError,
    BadRequest,
    NotFound,
    ServerError,
    ServiceUnavailable,
    Unauthorized,
)
from ferry.knowledge.errors import KnowledgeNotFound, KnowledgeRefused
from ferry.runs.errors import CallNotPending
from ferry.store.errors import StoreError, StoreUnavailable

__all__ = ["error_response", "to_agents_error"]

log = logging.getLogger(__name__)

_INTERNAL = "The server had an internal error; see Ferry's log."


def to_agents_error(exc: BaseException) -> AgentsError:
    """Anything raised while serving a request, as the error the client will see. The store
    rule is the queue service's (`ferry.queues.wire.to_queue_error`): unavailable → 503,
    any other store failure → 500."""
    if isinstance(exc, AgentsError):
        return exc
    if isinstance(exc, KnowledgeNotFound):
        return NotFound(exc.message)
    if isinstance(exc, KnowledgeRefused):
        return BadRequest(exc.message, param=exc.param)
    if isinstance(exc, CallNotPending):  # another request answered the call first
        return BadRequest(str(exc))
    if isinstance(exc, StoreUnavailable):
        log.warning("store unavailable: %s", exc)
        return ServiceUnavailable("The service's database is unavailable; retry later.")
    if isinstance(exc, StoreError):
        log.error("store error: %s", exc)
        return ServerError(_INTERNAL)
    log.exception("unexpected error in the agents API", exc_info=exc)
    return ServerError(_INTERNAL)


def error_response(exc: BaseException) -> JSONResponse:
    error = to_agents_error(exc)
    kind = "invalid_request_error" if error.status < 500 else "server_error"
    headers = {}
    if isinstance(error, Unauthorized):
        headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return JSONResponse(
        {
            "error": {
                "code": error.code,
                "message": error.message,
                "type": kind,
                "param": error.param,
            }
        },
        status_code=error.status,
        headers=headers,
    )
