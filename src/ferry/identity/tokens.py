"""Ferry's own access tokens: signed JWTs for the audiences the Azure clients ask for.

The signing key (ECDSA P-256) is made on first start and kept in `<data>/identity/`, so a
token stays good across restarts, and every Ferry process using the same data folder issues
and accepts the same tokens. A token names its audience (the resource it was asked for);
each service accepts only its own audiences, as the real ones do.
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ferry.identity.errors import IdentityError, InvalidToken

__all__ = [
    "AGENT_AUDIENCES",
    "AUDIENCES",
    "ISSUER",
    "STORAGE_AUDIENCES",
    "Token",
    "TokenIssuer",
    "resource_of",
]

ISSUER = "https://ferry.local/identity"
AGENT_AUDIENCES = frozenset(
    {"https://ml.azure.com", "https://ai.azure.com", "https://cognitiveservices.azure.com"}
)
STORAGE_AUDIENCES = frozenset({"https://storage.azure.com"})
AUDIENCES = AGENT_AUDIENCES | STORAGE_AUDIENCES | {"https://management.azure.com"}
LIFETIME = 24 * 3600
"""Seconds a token is good for (the clients ask again well before, at half of it)."""
PRINCIPAL = "00000000-0000-0000-0000-00000000f322"
"""The one local identity every token is issued to (`oid`, `sub`)."""
_ALGORITHM = "ES256"
_LEEWAY = 60
_REMEMBERED = 4096
"""Verified tokens kept (the set is emptied when full: few clients hold many tokens)."""


def resource_of(scope: str) -> str | None:
    """The audience a scope or resource names (`https://storage.azure.com/.default` →
    `https://storage.azure.com`), or None if Ferry issues no tokens for it."""
    resource = scope.strip().removesuffix("/.default").rstrip("/").lower()
    return resource if resource in AUDIENCES else None


@dataclass(frozen=True)
class Token:
    value: str
    expires_on: int
    resource: str


class TokenIssuer:
    def __init__(self, data: Path) -> None:
        self.key = _load_or_make_key(data / "identity" / "signing-key.pem")
        self.public_key = self.key.public_key()
        self._verified: dict[str, dict[str, Any]] = {}

    def issue(self, resource: str, *, now: float | None = None) -> Token:
        audience = resource_of(resource)
        if audience is None:
            raise IdentityError(f"Ferry issues no tokens for the resource '{resource[:200]}'")
        issued = int(time.time() if now is None else now)
        claims = {
            "iss": ISSUER,
            "aud": audience,
            "sub": PRINCIPAL,
            "oid": PRINCIPAL,
            "iat": issued,
            "nbf": issued,
            "exp": issued + LIFETIME,
            "jti": uuid.uuid4().hex,
        }
        value = jwt.encode(claims, self.key, algorithm=_ALGORITHM)
        return Token(value, issued + LIFETIME, audience)

    def verify(self, token: str, audiences: frozenset[str]) -> dict[str, Any]:
        """The token's claims, if it is Ferry's, current and for one of `audiences`.

        Clients send the same token with every request until it nears expiry, so a token
        verified once is remembered (by its exact text) until it expires."""
        known = self._verified.get(token)
        if known is not None and known["aud"] in audiences and known["exp"] > time.time():
            return known
        claims = self._verify(token, audiences)
        if len(self._verified) >= _REMEMBERED:
            self._verified.clear()
        self._verified[token] = claims
        return claims

    def _verify(self, token: str, audiences: frozenset[str]) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError:
            raise InvalidToken("malformed", "The bearer token is not a well-formed JWT.") from None
        if header.get("alg") != _ALGORITHM:
            raise InvalidToken(
                "signature", f"The bearer token is signed with '{header.get('alg')}', not ES256."
            )
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self.public_key,
                algorithms=[_ALGORITHM],
                audience=list(audiences),
                issuer=ISSUER,
                leeway=_LEEWAY,
                options={"require": ["exp", "iat", "nbf", "aud", "iss"]},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("expired", "The bearer token has expired.") from None
        except jwt.ImmatureSignatureError:
            raise InvalidToken("not_yet_valid", "The bearer token is not valid yet.") from None
        except jwt.InvalidAudienceError:
            wanted = ", ".join(sorted(audiences))
            raise InvalidToken(
                "audience", f"The bearer token is not for this service (audience: {wanted})."
            ) from None
        except jwt.InvalidSignatureError:
            raise InvalidToken(
                "signature", "The bearer token's signature is not Ferry's (another key signed it)."
            ) from None
        except jwt.InvalidTokenError as exc:
            raise InvalidToken("invalid", f"The bearer token is not valid: {exc}.") from None
        return claims


def _load_or_make_key(path: Path) -> ec.EllipticCurvePrivateKey:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        made = ec.generate_private_key(ec.SECP256R1())
        pem = made.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        # Exclusive create: of several processes starting at once, one key wins.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    except OSError as exc:
        raise IdentityError(f"cannot write the signing key {path}: {exc}") from None
    else:
        with os.fdopen(descriptor, "wb") as file:
            file.write(pem)
            file.flush()
            os.fsync(file.fileno())
    for _ in range(50):
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise IdentityError(f"cannot read the signing key {path}: {exc}") from None
        if data:  # another process may be halfway through writing it
            break
        time.sleep(0.02)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except ValueError as exc:
        raise IdentityError(f"{path} is not a signing key: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise IdentityError(f"{path} is not an ECDSA key")
    return key
