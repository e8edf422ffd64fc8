"""Pop receipts: opaque to clients, `base64(nonce ‖ row id)` to Ferry.

Each put, receive or update stores a fresh random nonce on the message; the receipt handed
out carries that nonce and the message's row id. A receipt is good while the stored nonce is
still the one it carries, so any later receive or update makes it stale. Like Azure's, a
receipt is 16 bytes in base64; one that does not decode is a malformed request.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import struct

from ferry.queues.errors import InvalidQueryParameterValue

__all__ = ["decode", "encode", "new_nonce"]

_LAYOUT = struct.Struct(">QQ")


def new_nonce() -> int:
    """A random non-negative 63-bit integer (it fits a signed BIGINT)."""
    return secrets.randbits(63)


def encode(nonce: int, row_id: int) -> str:
    return base64.b64encode(_LAYOUT.pack(nonce, row_id)).decode("ascii")


def decode(receipt: str) -> tuple[int, int]:
    """(nonce, row id); raises `InvalidQueryParameterValue` if it is not a Ferry receipt."""
    try:
        raw = base64.b64decode(receipt, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != _LAYOUT.size:
        raise InvalidQueryParameterValue("popreceipt", receipt, "Invalid pop receipt format")
    nonce, row_id = _LAYOUT.unpack(raw)
    return nonce, row_id
