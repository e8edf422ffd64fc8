"""Bearer tokens on the queue service: Ferry's own, for the storage audience.

A refused token gets the service's answer: a token that cannot be read at all is `401
InvalidAuthenticationInfo` (with the bearer challenge); one that fails a check is `403
AuthenticationFailed` whose `AuthenticationErrorDetail` names the check, in the service's words.
"""

from __future__ import annotations

import jwt

from ferry.identity.errors import InvalidToken
from ferry.identity.tokens import ISSUER, STORAGE_AUDIENCES, TokenIssuer
from ferry.queues.errors import AuthenticationFailed, InvalidAuthenticationInfo, QueueServiceError

__all__ = ["REFUSALS", "StorageTokens", "refusal"]

SIGNATURE_FAILED = "Signature validation failed. Signature is invalid."
ISSUER_FAILED = "Issuer validation failed. Issuer did not match."
AUDIENCE_FAILED = "Audience validation failed. Audience did not match."
EXPIRED = "Lifetime validation failed. The token is expired."
NOT_YET_VALID = "Lifetime validation failed. The token is not yet valid."
NO_EXPIRY = "Lifetime validation failed. The token is missing an Expiration Time."

REFUSALS = {
    "signature": SIGNATURE_FAILED,
    "audience": AUDIENCE_FAILED,
    "expired": EXPIRED,
    "not_yet_valid": NOT_YET_VALID,
}
"""`InvalidToken.reason` → the service's `AuthenticationErrorDetail`."""


class StorageTokens:
    """The queue service's `TokenVerifier`: any token of the local identity whose audience is
    storage may act on every account, as a Storage Queue Data Contributor would."""

    def __init__(self, issuer: TokenIssuer) -> None:
        self.issuer = issuer

    async def verify(self, token: str, *, account: str) -> None:
        try:
            self.issuer.verify(token, STORAGE_AUDIENCES)
        except InvalidToken as exc:
            raise refusal(exc, token) from None


def refusal(exc: InvalidToken, token: str) -> QueueServiceError:
    """The service's refusal for a token the identity refused."""
    if exc.reason in REFUSALS:
        return AuthenticationFailed(REFUSALS[exc.reason])
    if exc.reason == "malformed":
        return InvalidAuthenticationInfo()
    # Any other failed check: the identity's reason is PyJWT's sentence, so tell from the
    # (already verified) claims which check the service would name.
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return InvalidAuthenticationInfo()
    if claims.get("iss") != ISSUER:
        return AuthenticationFailed(ISSUER_FAILED)
    if "exp" not in claims or "nbf" not in claims:
        return AuthenticationFailed(NO_EXPIRY)
    if "aud" not in claims:
        return AuthenticationFailed(AUDIENCE_FAILED)
    return InvalidAuthenticationInfo()
