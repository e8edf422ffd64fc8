"""What the queue protocol answers when it refuses a request, and what Ferry meets when it
calls a queue service.

Each QueueServiceError carries the HTTP status and the `x-ms-error-code` the Azure Queue
service uses for that refusal; `ferry.queues.wire.error_response` turns any of them into the
XML error body::

    QueueServiceError
    ├── BadRequest (400)       InvalidQueryParameterValue, OutOfRangeQueryParameterValue,
    │                          InvalidHeaderValue, MissingRequiredHeader, InvalidXmlDocument,
    │                          InvalidXmlNodeValue, InvalidResourceName, InvalidMetadata,
    │                          InvalidUri, InvalidHttpVerb, EmptyMetadataKey, ...
    ├── AuthError (401/403)    NoAuthenticationInformation, AuthenticationFailed,
    │                          Authorization*Mismatch, CorsPreflightFailure, ...
    ├── NotFound (404)         QueueNotFound, MessageNotFound, ResourceNotFound
    ├── UnsupportedHttpVerb (405)
    ├── Conflict (409)         QueueAlreadyExists, QueueBeingDeleted
    ├── RequestBodyTooLarge (413)
    ├── InternalError (500)    any other store failure, or a bug
    └── ServerBusy (503)       the store is unavailable for a moment

Each QueueEndpointError is a failure of a call Ferry made as a client; foreign errors become
one at the boundary that meets them (`ferry.queues.endpoints.remote.SDK_ERRORS` for
azure-core and its transport, `ferry.queues.client` for httpx, `ferry.queues.endpoints.local`
for the tree above and the store's)::

    QueueEndpointError (status, code: the service's answer, if any)
    ├── EndpointUnavailable    no answer, ServerBusy, or the local store unavailable: retry
    ├── EndpointAuthRefused    401/403, or no token could be had
    ├── EndpointNotFound       404
    ├── EndpointConflict       409
    ├── EndpointRefused        any other refusal
    ├── EndpointProtocolError  an answer that cannot be read
    └── UnreachableQueueService  no client can be made for the URL
"""

from __future__ import annotations

from ferry.errors import FerryError

__all__ = [
    "AuthError",
    "AuthenticationFailed",
    "AuthorizationFailure",
    "AuthorizationPermissionMismatch",
    "AuthorizationProtocolMismatch",
    "AuthorizationResourceTypeMismatch",
    "AuthorizationServiceMismatch",
    "AuthorizationSourceIPMismatch",
    "BadRequest",
    "CorsPreflightFailure",
    "Conflict",
    "EmptyMetadataKey",
    "EndpointAuthRefused",
    "EndpointConflict",
    "EndpointNotFound",
    "EndpointProtocolError",
    "EndpointRefused",
    "EndpointUnavailable",
    "InternalError",
    "InvalidHeaderValue",
    "InvalidHttpVerb",
    "InvalidInput",
    "InvalidMetadata",
    "InvalidQueryParameterValue",
    "InvalidResourceName",
    "InvalidUri",
    "InvalidXmlDocument",
    "InvalidXmlNodeValue",
    "MessageNotFound",
    "MetadataTooLarge",
    "MissingRequiredHeader",
    "MissingRequiredQueryParameter",
    "InvalidAuthenticationInfo",
    "NoAuthenticationInformation",
    "NotFound",
    "OutOfRangeInput",
    "OutOfRangeQueryParameterValue",
    "QueueAlreadyExists",
    "QueueBeingDeleted",
    "QueueEndpointError",
    "QueueNotFound",
    "QueueServiceError",
    "RequestBodyTooLarge",
    "ResourceNotFound",
    "ServerBusy",
    "UnreachableQueueService",
    "UnsupportedHttpVerb",
    "endpoint_refusal",
]


class QueueServiceError(FerryError):
    """A refusal in the queue protocol's terms: status, error code, message, extra XML fields."""

    status = 400
    code = "InvalidInput"
    default_message = "One of the request inputs is not valid."
    headers: dict[str, str] = {}
    """Extra response headers this refusal carries."""

    def __init__(self, message: str | None = None, **details: str) -> None:
        self.message = message or self.default_message
        self.details = details
        super().__init__(self.message)


class BadRequest(QueueServiceError):
    """400: the request itself is wrong."""


class InvalidInput(BadRequest):
    """One of the request inputs is not valid."""


class OutOfRangeInput(BadRequest):
    code = "OutOfRangeInput"
    default_message = "One of the request inputs is out of range."


class InvalidQueryParameterValue(BadRequest):
    code = "InvalidQueryParameterValue"
    default_message = (
        "Value for one of the query parameters specified in the request URI is invalid."
    )

    def __init__(self, name: str, value: str, reason: str | None = None) -> None:
        details = {"QueryParameterName": name, "QueryParameterValue": value}
        if reason:
            details["Reason"] = reason
        super().__init__(None, **details)


class OutOfRangeQueryParameterValue(BadRequest):
    code = "OutOfRangeQueryParameterValue"
    default_message = (
        "One of the query parameters specified in the request URI is outside the permissible range."
    )

    def __init__(self, name: str, value: str, minimum: int, maximum: int) -> None:
        super().__init__(
            None,
            QueryParameterName=name,
            QueryParameterValue=value,
            MinimumAllowed=str(minimum),
            MaximumAllowed=str(maximum),
        )


class MissingRequiredQueryParameter(BadRequest):
    code = "MissingRequiredQueryParameter"
    default_message = "A query parameter that's mandatory for this request is not specified."

    def __init__(self, name: str) -> None:
        super().__init__(None, QueryParameterName=name)


class InvalidHeaderValue(BadRequest):
    code = "InvalidHeaderValue"
    default_message = "The value for one of the HTTP headers is not in the correct format."

    def __init__(self, name: str, value: str) -> None:
        super().__init__(None, HeaderName=name, HeaderValue=value)


class MissingRequiredHeader(BadRequest):
    code = "MissingRequiredHeader"
    default_message = "An HTTP header that's mandatory for this request is not specified."

    def __init__(self, name: str) -> None:
        super().__init__(None, HeaderName=name)


class InvalidXmlDocument(BadRequest):
    code = "InvalidXmlDocument"
    default_message = "XML specified is not syntactically valid."


class InvalidXmlNodeValue(BadRequest):
    code = "InvalidXmlNodeValue"
    default_message = "The value for one of the XML nodes is not in the correct format."


class InvalidResourceName(BadRequest):
    code = "InvalidResourceName"
    # The service's own text, misspelling included: clients match on it.
    default_message = "The specifed resource name contains invalid characters."


class InvalidMetadata(BadRequest):
    code = "InvalidMetadata"
    default_message = "The metadata specified is invalid. It has characters that are not permitted."


class EmptyMetadataKey(BadRequest):
    code = "EmptyMetadataKey"
    default_message = "The key for one of the metadata key-value pairs is empty."


class MetadataTooLarge(BadRequest):
    code = "MetadataTooLarge"
    default_message = "The metadata specified exceeds the maximum permissible limit (8KB)."


class InvalidHttpVerb(BadRequest):
    code = "InvalidHttpVerb"
    default_message = "The HTTP verb specified is invalid - it is not recognized by the server."


class InvalidUri(BadRequest):
    code = "InvalidUri"
    default_message = "The requested URI does not represent any resource on the server."


class AuthError(QueueServiceError):
    """401/403: who is asking, or what they may do, does not check out."""

    status = 403


class NoAuthenticationInformation(AuthError):
    """Sent with a `WWW-Authenticate: Bearer …` challenge, as the service does."""

    status = 401
    headers = {
        "WWW-Authenticate": (
            "Bearer authorization_uri=https://login.microsoftonline.com/common/oauth2/authorize "
            "resource_id=https://storage.azure.com"
        )
    }
    code = "NoAuthenticationInformation"
    default_message = (
        "Server failed to authenticate the request. "
        "Please refer to the information in the www-authenticate header."
    )


class InvalidAuthenticationInfo(AuthError):
    """A bearer token that cannot be read at all (not a JWT); sent with the same challenge as
    a request with no credentials, as the service does. A readable token that fails a check
    is `AuthenticationFailed`, naming the check."""

    status = 401
    headers = NoAuthenticationInformation.headers
    code = "InvalidAuthenticationInfo"
    default_message = (
        "Authentication information is not given in the correct format. "
        "Check the value of Authorization header."
    )


class AuthenticationFailed(AuthError):
    code = "AuthenticationFailed"
    default_message = (
        "Server failed to authenticate the request. Make sure the value of Authorization "
        "header is formed correctly including the signature."
    )

    def __init__(self, detail: str) -> None:
        super().__init__(None, AuthenticationErrorDetail=detail)


class AuthorizationFailure(AuthError):
    code = "AuthorizationFailure"
    default_message = "This request is not authorized to perform this operation."


class AuthorizationPermissionMismatch(AuthError):
    code = "AuthorizationPermissionMismatch"
    default_message = (
        "This request is not authorized to perform this operation using this permission."
    )


class AuthorizationResourceTypeMismatch(AuthError):
    code = "AuthorizationResourceTypeMismatch"
    default_message = (
        "This request is not authorized to perform this operation using this resource type."
    )


class AuthorizationServiceMismatch(AuthError):
    code = "AuthorizationServiceMismatch"
    default_message = "This request is not authorized to perform this operation using this service."


class AuthorizationProtocolMismatch(AuthError):
    code = "AuthorizationProtocolMismatch"
    default_message = (
        "This request is not authorized to perform this operation using this protocol."
    )


class AuthorizationSourceIPMismatch(AuthError):
    code = "AuthorizationSourceIPMismatch"
    default_message = (
        "This request is not authorized to perform this operation using this source IP."
    )


class NotFound(QueueServiceError):
    status = 404


class ResourceNotFound(NotFound):
    code = "ResourceNotFound"
    default_message = "The specified resource does not exist."


class QueueNotFound(NotFound):
    code = "QueueNotFound"
    default_message = "The specified queue does not exist."


class MessageNotFound(NotFound):
    code = "MessageNotFound"
    default_message = "The specified message does not exist."


class UnsupportedHttpVerb(QueueServiceError):
    status = 405
    code = "UnsupportedHttpVerb"
    default_message = "The resource doesn't support specified Http Verb."


class Conflict(QueueServiceError):
    status = 409


class QueueAlreadyExists(Conflict):
    code = "QueueAlreadyExists"
    default_message = "The specified queue already exists."


class QueueBeingDeleted(Conflict):
    code = "QueueBeingDeleted"
    default_message = "The specified queue is being deleted."


class RequestBodyTooLarge(QueueServiceError):
    status = 413
    code = "RequestBodyTooLarge"
    default_message = "The request body is too large and exceeds the maximum permissible limit."

    def __init__(self, limit: int) -> None:
        super().__init__(None, MaxLimit=str(limit))


class CorsPreflightFailure(AuthError):
    code = "CorsPreflightFailure"
    default_message = "CORS not enabled or no matching rule found for this request."


class ServerBusy(QueueServiceError):
    """503: the store is unavailable for now (busy, cannot be reached, or full)."""

    status = 503
    code = "ServerBusy"
    default_message = (
        "The server is currently unable to receive requests. Please retry your request."
    )


class InternalError(QueueServiceError):
    """500: any other store failure, or a bug (logged, never shown to the client)."""

    status = 500
    code = "InternalError"
    default_message = "The server encountered an internal error. Please retry the request."


# -- Ferry as a client ----------------------------------------------------------------------


class QueueEndpointError(FerryError):
    """A queue service Ferry calls (a trigger, an output binding, the run engine, the CLI)
    did not do what was asked. `status` and `code` are the service's answer, None when there
    was none. Every QueueEndpoint and the CLI's QueueClient raise only this family, so a
    caller that retries catches it rather than Exception."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.status = status
        self.code = code


class EndpointUnavailable(QueueEndpointError):
    """No answer (refused, reset or timed-out connection, DNS, TLS), or ServerBusy, or Ferry's
    own store unavailable: worth retrying later."""


class EndpointAuthRefused(QueueEndpointError):
    """401/403, or no token could be had for the service."""


class EndpointNotFound(QueueEndpointError):
    """404: the queue or message is not there."""


class EndpointConflict(QueueEndpointError):
    """409: the queue exists already, or is being deleted."""


class EndpointRefused(QueueEndpointError):
    """Any other refusal (400, 412, 413, 500, ...)."""


class EndpointProtocolError(QueueEndpointError):
    """An answer that cannot be read (malformed XML, undecodable, endless redirects), or the
    client library used against its own rules."""


class UnreachableQueueService(QueueEndpointError):
    """A queue service URL cannot be used: not a URL, or no credential can be had for it."""


_BY_STATUS: dict[int, type[QueueEndpointError]] = {
    401: EndpointAuthRefused,
    403: EndpointAuthRefused,
    404: EndpointNotFound,
    409: EndpointConflict,
    503: EndpointUnavailable,
}


def endpoint_refusal(status: int, code: str | None, message: str) -> QueueEndpointError:
    """The family member for a service's refusal: the one rule for every client Ferry has."""
    return _BY_STATUS.get(status, EndpointRefused)(message, status=status, code=code)
