"""Shared access signatures: account SAS (`ss`, `srt`) and queue (service) SAS (`si`).

Strings to sign, with each field on its own line and absent fields empty:
- account SAS: account, sp, ss, srt, st, se, sip, spr, sv, then an empty signed-encryption-scope
  line from version 2020-12-06 on (the SDK ends the string with it);
- queue SAS: sp, st, se, `/queue/<account>/<queue>`, si, sip, spr, sv.
"""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from ferry.queues.auth.accounts import Account
from ferry.queues.auth.request import SignedRequest
from ferry.queues.auth.sharedkey import signatures_match
from ferry.queues.errors import (
    AuthenticationFailed,
    AuthorizationPermissionMismatch,
    AuthorizationProtocolMismatch,
    AuthorizationResourceTypeMismatch,
    AuthorizationServiceMismatch,
    AuthorizationSourceIPMismatch,
)
from ferry.queues.models import AccessPolicy

__all__ = ["Access", "Sas", "check_account_sas", "check_queue_sas", "parse_sas"]

_ENCRYPTION_SCOPE_SINCE = "2020-12-06"
_ACCOUNT_PERMISSIONS = set("rwdlacup")
_QUEUE_PERMISSIONS = set("raup")


@dataclass(frozen=True, slots=True)
class Access:
    """What an operation needs from a SAS."""

    resource_type: str
    """`s` service, `c` container (a queue), `o` object (its messages)."""
    account_permissions: str
    """Any one of these letters in an account SAS's `sp` allows the operation."""
    queue_permission: str | None
    """The letter a queue SAS needs; None: a queue SAS cannot do this at all."""


@dataclass(frozen=True, slots=True)
class Sas:
    version: str
    signature: str
    permissions: str | None
    start: str | None
    expiry: str | None
    ip: str | None
    protocol: str | None
    identifier: str | None
    services: str | None
    resource_types: str | None

    @property
    def is_account_sas(self) -> bool:
        return self.services is not None


def parse_sas(request: SignedRequest) -> Sas | None:
    signature = request.param("sig")
    if signature is None:
        return None
    version = request.param("sv")
    if not version:
        raise AuthenticationFailed("The signed version (sv) is required in a SAS.")
    return Sas(
        version=version,
        signature=signature,
        permissions=request.param("sp"),
        start=request.param("st"),
        expiry=request.param("se"),
        ip=request.param("sip"),
        protocol=request.param("spr"),
        identifier=request.param("si"),
        services=request.param("ss"),
        resource_types=request.param("srt"),
    )


def check_account_sas(
    sas: Sas, request: SignedRequest, account: Account, access: Access, now: datetime
) -> None:
    fields = [
        account.name,
        sas.permissions,
        sas.services,
        sas.resource_types,
        sas.start,
        sas.expiry,
        sas.ip,
        sas.protocol,
        sas.version,
    ]
    text = "\n".join(value or "" for value in fields) + "\n"
    candidates = (text + "\n", text) if sas.version >= _ENCRYPTION_SCOPE_SINCE else (text,)
    if not _signed(account, candidates, sas.signature):
        raise AuthenticationFailed(_mismatch(candidates[0]))
    if not sas.permissions or not sas.expiry or not sas.resource_types:
        raise AuthenticationFailed("sp, se, ss and srt are required in an account SAS.")
    if set(sas.permissions) - _ACCOUNT_PERMISSIONS:
        raise AuthenticationFailed(f"Invalid permissions {sas.permissions!r} in the SAS.")
    _check_common(sas, request, now)
    if "q" not in (sas.services or ""):
        raise AuthorizationServiceMismatch()
    if access.resource_type not in sas.resource_types:
        raise AuthorizationResourceTypeMismatch()
    if not set(access.account_permissions) & set(sas.permissions):
        raise AuthorizationPermissionMismatch()


def check_queue_sas(
    sas: Sas,
    request: SignedRequest,
    account: Account,
    queue: str | None,
    access: Access,
    policy: AccessPolicy | None,
    now: datetime,
) -> None:
    """`policy` is the queue's stored access policy named by `si`, already looked up."""
    if queue is None or access.queue_permission is None:
        raise AuthorizationResourceTypeMismatch()
    fields = [
        sas.permissions,
        sas.start,
        sas.expiry,
        f"/queue/{account.name}/{queue}",
        sas.identifier,
        sas.ip,
        sas.protocol,
        sas.version,
    ]
    text = "\n".join(value or "" for value in fields)
    if not _signed(account, (text,), sas.signature):
        raise AuthenticationFailed(_mismatch(text))
    effective = _apply_policy(sas, policy)
    if not effective.permissions or not effective.expiry:
        raise AuthenticationFailed(
            "A queue SAS needs sp and se, given directly or by its stored access policy."
        )
    if set(effective.permissions) - _QUEUE_PERMISSIONS:
        raise AuthenticationFailed(f"Invalid permissions {effective.permissions!r} in the SAS.")
    _check_common(effective, request, now)
    if access.queue_permission not in effective.permissions:
        raise AuthorizationPermissionMismatch()


def _apply_policy(sas: Sas, policy: AccessPolicy | None) -> Sas:
    if sas.identifier is None:
        return sas
    if policy is None:
        raise AuthenticationFailed(
            f"The stored access policy {sas.identifier!r} named by si does not exist."
        )
    merged: dict[str, str | None] = {}
    for field, value in (
        ("permissions", policy.permission),
        ("start", policy.start),
        ("expiry", policy.expiry),
    ):
        given = getattr(sas, field)
        if value and given:
            raise AuthenticationFailed(
                f"The SAS and its stored access policy {policy.id!r} both set {field}."
            )
        merged[field] = given or value
    return replace(
        sas, permissions=merged["permissions"], start=merged["start"], expiry=merged["expiry"]
    )


def _check_common(sas: Sas, request: SignedRequest, now: datetime) -> None:
    start = _parse_time("st", sas.start)
    expiry = _parse_time("se", sas.expiry)
    if start is not None and start > now:
        raise AuthenticationFailed(f"Signed start time {sas.start} is in the future.")
    if expiry is not None and expiry <= now:
        raise AuthenticationFailed(f"Signed expiry time {sas.expiry} has passed.")
    if sas.protocol is not None:
        allowed = set(sas.protocol.split(","))
        if not allowed or allowed - {"https", "http"} or "https" not in allowed:
            raise AuthenticationFailed(f"Invalid signed protocol {sas.protocol!r}.")
        if request.scheme not in allowed:
            raise AuthorizationProtocolMismatch()
    if sas.ip is not None and not _ip_allowed(sas.ip, request.client_ip):
        raise AuthorizationSourceIPMismatch()


def _parse_time(field: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise AuthenticationFailed(f"{field} {value!r} is not an ISO 8601 UTC time.") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _ip_allowed(spec: str, client: str | None) -> bool:
    low, _, high = spec.partition("-")
    try:
        first = ipaddress.ip_address(low)
        last = ipaddress.ip_address(high) if high else first
    except ValueError:
        raise AuthenticationFailed(f"Invalid signed IP {spec!r}.") from None
    if client is None:
        return False
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return False
    return type(address) is type(first) and first <= address <= last  # type: ignore[operator]


@functools.lru_cache(maxsize=1024)
def _signed(account: Account, texts: tuple[str, ...], signature: str) -> bool:
    """A SAS is sent again with every request it authorizes: verify each one once."""
    return signatures_match(account, list(texts), signature)


def _mismatch(text: str) -> str:
    return f"Signature did not match. String to sign used was {text}"
