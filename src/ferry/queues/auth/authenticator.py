"""Decides who a request comes from and whether that caller may perform its operation.

Schemes, in the order they are looked for: `Authorization: SharedKey|SharedKeyLite`,
`Authorization: Bearer` (verified by a `TokenVerifier`, which the identity part supplies), and a
SAS in the query string. A request with none of them is refused: queues have no public access.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, timedelta
from email.utils import parsedate_to_datetime
from typing import Protocol

from ferry.clock import Clock, from_millis, system_clock
from ferry.queues.auth.accounts import Account, Accounts
from ferry.queues.auth.request import SignedRequest
from ferry.queues.auth.sas import Access, check_account_sas, check_queue_sas, parse_sas
from ferry.queues.auth.sharedkey import signatures_match, string_to_sign, string_to_sign_lite
from ferry.queues.errors import (
    AuthenticationFailed,
    InvalidAuthenticationInfo,
    NoAuthenticationInformation,
)
from ferry.queues.models import AccessPolicy

__all__ = ["Authenticator", "Grant", "PolicyLookup", "TokenVerifier"]

PolicyLookup = Callable[[str, str, str], Awaitable[AccessPolicy | None]]
"""(account, queue, policy id) → the queue's stored access policy with that id, if any."""

_MAX_CLOCK_SKEW = timedelta(minutes=15)


class TokenVerifier(Protocol):
    """Checks a bearer token for the storage audience; raises an `AuthError` if it is bad."""

    async def verify(self, token: str, *, account: str) -> None: ...


@dataclass(frozen=True, slots=True)
class Grant:
    account: str
    scheme: str


class Authenticator:
    def __init__(
        self,
        accounts: Accounts,
        policies: PolicyLookup,
        *,
        tokens: TokenVerifier | None = None,
        clock: Clock = system_clock,
    ) -> None:
        self.accounts = accounts
        self._policies = policies
        self._tokens = tokens
        self._clock = clock

    async def authenticate(
        self, request: SignedRequest, account: Account, queue: str | None, access: Access
    ) -> Grant:
        authorization = request.header("authorization")
        if authorization:
            scheme, _, credentials = authorization.partition(" ")
            if scheme in ("SharedKey", "SharedKeyLite"):
                self._check_shared_key(request, account, scheme, credentials.strip())
                return Grant(account.name, scheme)
            if scheme.lower() == "bearer":
                return await self._check_bearer(account, credentials.strip())
            raise AuthenticationFailed(f"Unsupported Authorization scheme {scheme!r}.")
        sas = parse_sas(request)
        if sas is None:
            raise NoAuthenticationInformation()
        now = from_millis(self._clock())
        if sas.is_account_sas:
            check_account_sas(sas, request, account, access, now)
        else:
            policy = None
            if sas.identifier is not None and queue is not None:
                policy = await self._policies(account.name, queue, sas.identifier)
            check_queue_sas(sas, request, account, queue, access, policy, now)
        return Grant(account.name, "sas")

    def _check_shared_key(
        self, request: SignedRequest, account: Account, scheme: str, credentials: str
    ) -> None:
        name, sep, signature = credentials.rpartition(":")
        if not sep or not signature:
            raise AuthenticationFailed(
                f"The Authorization header is not '{scheme} <account>:<signature>'."
            )
        if name != account.name:
            raise AuthenticationFailed(
                f"The account {name!r} in the Authorization header does not match "
                f"the account {account.name!r} in the URL."
            )
        self._check_date(request)
        if scheme == "SharedKeyLite":
            texts = [string_to_sign_lite(request, account.name)]
        else:
            texts = [string_to_sign(request, account.name)]
            if "date" in request.headers and "x-ms-date" in request.headers:
                texts.append(string_to_sign(request, account.name, keep_date=True))
        if not signatures_match(account, texts, signature):
            raise AuthenticationFailed(
                f"The MAC signature found in the HTTP request '{signature}' is not the same as "
                f"any computed signature. Server used following string to sign: '{texts[0]}'."
            )

    def _check_date(self, request: SignedRequest) -> None:
        value = request.header("x-ms-date") or request.header("date")
        if not value:
            raise AuthenticationFailed("Request date header not specified")
        try:
            sent = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            raise AuthenticationFailed(f"Request date header is invalid: '{value}'") from None
        if sent.tzinfo is None:
            sent = sent.replace(tzinfo=UTC)
        skew = from_millis(self._clock()) - sent
        if skew > _MAX_CLOCK_SKEW:
            raise AuthenticationFailed(f"Request date header too old: '{value}'")
        if -skew > _MAX_CLOCK_SKEW:
            raise AuthenticationFailed(f"Request date header too far in the future: '{value}'")

    async def _check_bearer(self, account: Account, token: str) -> Grant:
        if self._tokens is None:
            raise AuthenticationFailed(
                "Bearer tokens are not accepted by this queue service: it has no token issuer "
                "configured. Use a connection string (SharedKey) or a SAS."
            )
        if not token:
            raise InvalidAuthenticationInfo()
        await self._tokens.verify(token, account=account.name)
        return Grant(account.name, "bearer")
