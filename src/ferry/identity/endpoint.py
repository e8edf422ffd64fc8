"""The managed-identity token endpoint, in the App Service form `DefaultAzureCredential` and
`ManagedIdentityCredential` use when `IDENTITY_ENDPOINT` and `IDENTITY_HEADER` are set:

    GET <IDENTITY_ENDPOINT>?api-version=2019-08-01&resource=<resource>
    X-IDENTITY-HEADER: <the instance's secret>

answered with `{"access_token", "expires_on", "resource", "token_type", "client_id"}`. The
secret is made anew by each start and given only to the instance's own function apps and to
`ferry env`, as App Service gives it only to its apps.
"""

from __future__ import annotations

import hmac
import secrets

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ferry.identity.tokens import AUDIENCES, PRINCIPAL, TokenIssuer, resource_of

__all__ = ["API_VERSION", "PATH", "build_identity_app", "new_secret"]

PATH = "/msi/token"
API_VERSION = "2019-08-01"
HEADER = "x-identity-header"


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def _error(status: int, code: str, message: str) -> Response:
    return JSONResponse(
        {"error": code, "error_description": message, "statusCode": status}, status_code=status
    )


def build_identity_app(issuer: TokenIssuer, secret: str) -> Starlette:
    async def token(request: Request) -> Response:
        given = request.headers.get(HEADER, "")
        if not given:
            return _error(401, "unauthorized", f"The {HEADER.upper()} header is missing.")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            return _error(401, "unauthorized", f"The {HEADER.upper()} header is wrong.")
        version = request.query_params.get("api-version")
        if version != API_VERSION:
            return _error(
                400, "invalid_request", f"api-version must be {API_VERSION}, not {version!r}."
            )
        resource = request.query_params.get("resource") or ""
        audience = resource_of(resource)
        if audience is None:
            known = ", ".join(sorted(AUDIENCES))
            return _error(
                400,
                "invalid_resource",
                f"No tokens for resource {resource[:200]!r}; Ferry issues them for: {known}.",
            )
        issued = issuer.issue(audience)
        return JSONResponse(
            {
                "access_token": issued.value,
                "expires_on": str(issued.expires_on),
                "resource": resource,
                "token_type": "Bearer",
                "client_id": PRINCIPAL,
            }
        )

    async def not_found(request: Request) -> Response:
        return _error(404, "not_found", f"The token endpoint is {PATH}.")

    return Starlette(
        routes=[
            Route(PATH, token, methods=["GET"]),
            Route("/{rest:path}", not_found, methods=["GET", "POST", "PUT", "DELETE"]),
        ]
    )
