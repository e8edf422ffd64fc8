"""Errors on the wire: every failure of an agents API request becomes one JSON shape.

`{"error": {"code", "message", "type", "param"}}`: `code` and `message` are what the Azure SDKs
read; `type` and `param` are what the `openai` client reads.
"""

from __future__ import annotations

import logging

from starlette.responses import JSONResponse

from ferry.agents.errors import AgentsError, BadRequest, NotFound, Unauthorized
from ferry.knowledge.errors import KnowledgeNotFound, KnowledgeRefused
from ferry.runs.errors import CallNotPending
from ferry.store import StoreError

__all__ = ["error_response", "to_agents_error"]

log = logging.getLogger(__name__)


class _ServerError(AgentsError):
    status = 500
    code = "server_error"


class _Unavailable(AgentsError):
    status = 503
    code = "service_unavailable"


def to_agents_error(exc: BaseException) -> AgentsError:
    if isinstance(exc, AgentsError):
        return exc
    if isinstance(exc, KnowledgeNotFound):
        return NotFound(exc.message)
    if isinstance(exc, KnowledgeRefused):
        return BadRequest(exc.message, param=exc.param)
    if isinstance(exc, CallNotPending):  # another request answered the call first
        return BadRequest(str(exc))
    if isinstance(exc, StoreError):
        log.warning("store failure: %s", exc)
        return _Unavailable("The service's database is unavailable; retry later.")
    log.exception("unexpected error in the agents API", exc_info=exc)
    return _ServerError("The server had an internal error; see Ferry's log.")


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
