"""Local identity's errors.

`InvalidToken.reason` is one word (malformed, signature, expired, not_yet_valid, audience,
invalid) so that each service answers in its own terms: 401 `Unauthorized` in the agents API
(`ferry.agents.auth`), 401 `InvalidAuthenticationInfo` on the queues
(`ferry.queues.auth.tokens`).
"""

from __future__ import annotations

from ferry.errors import FerryError

__all__ = ["IdentityError", "InvalidToken"]


class IdentityError(FerryError):
    """Something about local identity went wrong (the signing key, a resource Ferry issues
    no tokens for)."""


class InvalidToken(IdentityError):
    """A bearer token was refused; `reason` says why in a word the services can map."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
