"""The agent service's errors, each with the HTTP status and JSON error code it answers with.

`ferry.agents.wire` turns them into `{"error": {"code", "message", ...}}`; nothing else in
the package builds error responses.
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
