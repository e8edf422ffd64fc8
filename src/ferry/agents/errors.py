"""The agent service's errors, each with the HTTP status and JSON error code it answers with.

`ferry.agents.wire` turns them into `{"error": {"code", "message", ...}}`; nothing else in
the package builds error responses::

    AgentsError (400 invalid_request_error)
    ├── BadRequest, InvalidApiVersion, NotSupported (400)
    ├── Unauthorized (401), NotFound (404), MethodNotAllowed (405), Conflict (409),
    │   PayloadTooLarge (413)
    ├── ServerError (500 server_error)             anything unexpected; a StoreError
    └── ServiceUnavailable (503 service_unavailable)   StoreUnavailable: retry later
"""

from __future__ import annotations

from ferry.errors import FerryError

__all__ = [
    "AgentsError",
    "BadRequest",
    "Conflict",
    "InvalidApiVersion",
    "MethodNotAllowed",
    "NotFound",
    "NotSupported",
    "PayloadTooLarge",
    "ServerError",
    "ServiceUnavailable",
    "Unauthorized",
]


class AgentsError(FerryError):
    status = 400
    code = "invalid_request_error"

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


class BadRequest(AgentsError):
    """The body, a parameter or the state of an object does not allow the request."""


class InvalidApiVersion(AgentsError):
    code = "invalid_api_version"


class NotSupported(AgentsError):
    """A feature of the real service Ferry does not offer (files, vector stores, code
    interpreter, …): refused plainly rather than accepted and ignored."""

    code = "not_supported"


class Unauthorized(AgentsError):
    status = 401
    code = "unauthorized"


class NotFound(AgentsError):
    status = 404
    code = "not_found"


class MethodNotAllowed(AgentsError):
    status = 405
    code = "method_not_allowed"


class Conflict(AgentsError):
    status = 409
    code = "conflict"


class PayloadTooLarge(AgentsError):
    status = 413
    code = "payload_too_large"


class ServerError(AgentsError):
    """500: Ferry failed (a store error other than unavailability, or a bug, logged with its
    traceback); the client is told to look at the log, never shown the exception."""

    status = 500
    code = "server_error"


class ServiceUnavailable(AgentsError):
    """503: the database cannot be reached, is busy or full for now; the request may be
    retried as it is (the queue service answers ServerBusy in the same case)."""

    status = 503
    code = "service_unavailable"
