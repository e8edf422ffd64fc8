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
from ferry.queues.times import rfc1123

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
    """Any one of these letters in an account SAS's `sp` allows the operation; empty: only
    the account owner (SharedKey) may, so an account SAS gets AuthorizationPermissionMismatch."""
    queue_permission: str | None
    """The letter a queue SAS needs; None: a queue SAS cannot name this resource at all
    (AuthorizationResourceTypeMismatch); empty: owner only (AuthorizationPermissionMismatch)."""


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


_SAS_FIELDS = frozenset({"sv", "ss", "srt", "sr", "sp", "st", "se", "sip", "spr", "si", "sig"})
_NOT_WELL_FORMED = "Signature fields not well formed."


def parse_sas(request: SignedRequest) -> Sas | None:
    signature = request.param("sig")
    if signature is None:
        return None
    # A field given twice is ambiguous (which one was signed?): the service refuses it rather
    # than pick one.
    names = [name for name, _ in request.query if name in _SAS_FIELDS]
    if len(names) != len(set(names)):
        raise AuthenticationFailed(_NOT_WELL_FORMED)
    version = request.param("sv")
    if not version:
        raise AuthenticationFailed("sv is mandatory. Cannot be empty")
    for optional in ("st", "sip", "spr", "si"):
        if request.param(optional) == "":
            raise AuthenticationFailed(f"{optional} is optional but cannot be empty")
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
    for name, value in (
        ("sp", sas.permissions),
        ("se", sas.expiry),
        ("ss", sas.services),
        ("srt", sas.resource_types),
    ):
        if not value:
            raise AuthenticationFailed(f"{name} is mandatory. Cannot be empty")
    if not _signed(account, candidates, sas.signature):
        raise AuthenticationFailed(_mismatch(candidates[0]))
    assert sas.permissions is not None and sas.resource_types is not None
    if set(sas.permissions) - _ACCOUNT_PERMISSIONS:
        raise AuthenticationFailed(_NOT_WELL_FORMED)
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
    if not effective.expiry:
        raise AuthenticationFailed("Signed expiry must be specified in signature or SAS identifier")
    if not effective.permissions:
        raise AuthenticationFailed(
            "Signed permission must be specified in signature or SAS identifier"
        )
    if set(effective.permissions) - _QUEUE_PERMISSIONS:
        raise AuthenticationFailed(_NOT_WELL_FORMED)
    _check_common(effective, request, now)
    if not access.queue_permission or access.queue_permission not in effective.permissions:
        raise AuthorizationPermissionMismatch()


def _apply_policy(sas: Sas, policy: AccessPolicy | None) -> Sas:
    if sas.identifier is None:
        return sas
    if policy is None:
        raise AuthenticationFailed("SAS identifier cannot be found for specified signed identifier")
    merged: dict[str, str | None] = {}
    for field, value in (
        ("permissions", policy.permission),
        ("start", policy.start),
        ("expiry", policy.expiry),
    ):
        given = getattr(sas, field)
        if value and given:
            raise AuthenticationFailed(
                "Access policy fields can be associated with signature or SAS identifier "
                "but not both"
            )
        merged[field] = given or value
    return replace(
        sas, permissions=merged["permissions"], start=merged["start"], expiry=merged["expiry"]
    )


def _check_common(sas: Sas, request: SignedRequest, now: datetime) -> None:
    start = _parse_time(sas.start)
    expiry = _parse_time(sas.expiry)
    assert expiry is not None
    if start is not None and start >= expiry:
        raise AuthenticationFailed(
            f"Signed expiry time [{_shown(expiry)}] has to be after signed start time "
            f"[{_shown(start)}]"
        )
    if (start is not None and now < start) or now >= expiry:
        raise AuthenticationFailed(
            "Signature not valid in the specified time frame: "
            f"Start [{_shown(start) if start else ''}] - Expiry [{_shown(expiry)}] - "
            f"Current [{_shown(now)}]"
        )
    if sas.protocol is not None:
        allowed = set(sas.protocol.split(","))
        if allowed - {"https", "http"} or "https" not in allowed:
            raise AuthenticationFailed(_NOT_WELL_FORMED)
        if request.scheme not in allowed:
            raise AuthorizationProtocolMismatch()
    if sas.ip is not None and not _ip_allowed(sas.ip, request.client_ip):
        raise AuthorizationSourceIPMismatch()


def _parse_time(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise AuthenticationFailed(_NOT_WELL_FORMED) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _shown(moment: datetime) -> str:
    return rfc1123(int(moment.timestamp() * 1000))


def _ip_allowed(spec: str, client: str | None) -> bool:
    low, _, high = spec.partition("-")
    try:
        first = ipaddress.ip_address(low)
        last = ipaddress.ip_address(high) if high else first
    except ValueError:
        raise AuthenticationFailed(_NOT_WELL_FORMED) from None
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
