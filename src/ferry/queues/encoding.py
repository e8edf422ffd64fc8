"""Message bodies as stored text: the one place that knows base64.

Azure Functions' queue bindings put and expect base64 by default (host.json
`messageEncoding`), as does the agent service's `azure_function` message; an answer may come
back either way. Keeping both directions here keeps the trigger, the output binding and the
run core agreeing on exactly what is valid.
"""

from __future__ import annotations

import base64
import binascii

__all__ = ["decode_body", "encode_body"]


def encode_body(payload: bytes, encoding: str = "base64") -> str:
    """The text to store for `payload`: base64, or (`none`) the UTF-8 text itself."""
    if encoding == "base64":
        return base64.b64encode(payload).decode("ascii")
    return payload.decode("utf-8", errors="replace")


def decode_body(text: str, encoding: str = "base64") -> bytes | None:
    """The bytes a stored text carries; None when base64 was expected and it is not valid
    base64 (strictly: no stray characters, as the real host's decoder)."""
    if encoding != "base64":
        return text.encode("utf-8")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
