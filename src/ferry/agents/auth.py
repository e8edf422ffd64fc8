"""Who may call the agents API: a seam, with the identity part's tokens behind it.

`FerryTokens` accepts a bearer token (or an `api-key`, as the `openai` client's Azure mode
sends) that Ferry's local identity issued for an agents audience; `AnyToken` accepts any
non-empty one (for embedding the API where another layer authenticates).
"""

from __future__ import annotations

from typing import Protocol

from starlette.datastructures import Headers

from ferry.agents.errors import Unauthorized
from ferry.identity.errors import InvalidToken
from ferry.identity.tokens import AGENT_AUDIENCES, TokenIssuer

__all__ = ["AnyToken", "Authorizer", "FerryTokens"]


class Authorizer(Protocol):
    async def check(self, headers: Headers, project: str) -> None:
        """Raise `Unauthorized` unless the request may act on `project`."""


def _presented(headers: Headers) -> str:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    api_key = headers.get("api-key", "").strip()
    if api_key:
        return api_key
    raise Unauthorized(
        "Access denied: the request needs an 'Authorization: Bearer <token>' header."
    )


class AnyToken:
    async def check(self, headers: Headers, project: str) -> None:
        _presented(headers)


class FerryTokens:
    def __init__(self, issuer: TokenIssuer) -> None:
        self.issuer = issuer

    async def check(self, headers: Headers, project: str) -> None:
        token = _presented(headers)
        try:
            self.issuer.verify(token, AGENT_AUDIENCES)
        except InvalidToken as exc:
            raise Unauthorized(f"Access denied: {exc.message}") from None
