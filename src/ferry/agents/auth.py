"""Who may call the agents API: a seam, so the identity part can check real tokens.

Until local identity is in place, any bearer token (or `api-key`, as the `openai` client's
Azure mode sends) is accepted, but a request must carry one, as the real service requires.
"""

from __future__ import annotations

from typing import Protocol

from starlette.datastructures import Headers

from ferry.agents.errors import Unauthorized

__all__ = ["AnyToken", "Authorizer"]


class Authorizer(Protocol):
    async def check(self, headers: Headers, project: str) -> None:
        """Raise `Unauthorized` unless the request may act on `project`."""


class AnyToken:
    async def check(self, headers: Headers, project: str) -> None:
        authorization = headers.get("authorization", "")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return
        if headers.get("api-key", "").strip():
            return
        raise Unauthorized(
            "Access denied: the request needs an 'Authorization: Bearer <token>' header."
        )
