"""Bearer tokens on the queue service: Ferry's own, for the storage audience."""

from __future__ import annotations

from ferry.identity.errors import InvalidToken
from ferry.identity.tokens import STORAGE_AUDIENCES, TokenIssuer
from ferry.queues.errors import InvalidAuthenticationInfo

__all__ = ["StorageTokens"]


class StorageTokens:
    """The queue service's `TokenVerifier`: any token of the local identity whose audience is
    storage may act on every account, as a Storage Queue Data Contributor would."""

    def __init__(self, issuer: TokenIssuer) -> None:
        self.issuer = issuer

    async def verify(self, token: str, *, account: str) -> None:
        try:
            self.issuer.verify(token, STORAGE_AUDIENCES)
        except InvalidToken as exc:
            raise InvalidAuthenticationInfo(exc.message) from None
