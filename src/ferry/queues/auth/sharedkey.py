"""SharedKey and SharedKeyLite signatures, rebuilt from the request as the SDK builds them.

String to sign (SharedKey): the verb, eleven standard headers one per line (Content-Length empty
when 0; Date empty when `x-ms-date` is sent), the `x-ms-*` headers as `name:value` lines in the
service's collation, then `/<account><encoded path>` and each query parameter as
`\\n<lowercased name>:<decoded values joined by commas>`, in name order.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from ferry.queues.auth.accounts import Account
from ferry.queues.auth.collation import header_sort_key
from ferry.queues.auth.request import SignedRequest

__all__ = ["sign", "signatures_match", "string_to_sign", "string_to_sign_lite"]

_STANDARD_HEADERS = (
    "content-encoding",
    "content-language",
    "content-length",
    "content-md5",
    "content-type",
    "date",
    "if-modified-since",
    "if-match",
    "if-none-match",
    "if-unmodified-since",
    "range",
)


def sign(key: bytes, text: str) -> str:
    return base64.b64encode(hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()).decode()


def _canonical_headers(request: SignedRequest) -> str:
    names = sorted((n for n in request.headers if n.startswith("x-ms-")), key=header_sort_key)
    return "".join(f"{name}:{request.headers[name]}\n" for name in names)


def _canonical_query(request: SignedRequest) -> str:
    grouped: dict[str, list[str]] = {}
    for name, value in request.query:
        grouped.setdefault(name.lower(), []).append(value)
    return "".join(
        f"\n{name}:{','.join(sorted(values))}" for name, values in sorted(grouped.items())
    )


def string_to_sign(request: SignedRequest, account: str, *, keep_date: bool = False) -> str:
    """`keep_date` signs the Date header even when `x-ms-date` is present, as some clients do."""
    drop_date = not keep_date and "x-ms-date" in request.headers
    values = []
    for name in _STANDARD_HEADERS:
        value = request.header(name)
        if (name == "content-length" and value == "0") or (name == "date" and drop_date):
            value = ""
        values.append(value)
    return (
        f"{request.method}\n"
        + "\n".join(values)
        + "\n"
        + _canonical_headers(request)
        + f"/{account}{request.raw_path}"
        + _canonical_query(request)
    )


def string_to_sign_lite(request: SignedRequest, account: str) -> str:
    date = "" if "x-ms-date" in request.headers else request.header("date")
    comp = request.param("comp")
    resource = f"/{account}{request.raw_path}" + (f"?comp={comp}" if comp is not None else "")
    return (
        f"{request.method}\n{request.header('content-md5')}\n{request.header('content-type')}\n"
        f"{date}\n{_canonical_headers(request)}{resource}"
    )


def signatures_match(account: Account, texts: list[str], signature: str) -> bool:
    """Whether `signature` signs any of `texts` with any of the account's keys."""
    return any(
        hmac.compare_digest(sign(key, text), signature) for text in texts for key in account.keys
    )
