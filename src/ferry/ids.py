"""Object ids in the service's style: a type prefix and 24 random letters and digits."""

from __future__ import annotations

import secrets
import string

__all__ = ["new_id"]

_ALPHABET = string.ascii_letters + string.digits
_LENGTH = 24
_BYTES = 18
"""144 random bits: a little more than 24 base-62 digits hold, so every digit is random."""


def new_id(prefix: str) -> str:
    """`asst_…`, `thread_…`, `msg_…`, `run_…`, `step_…`, `call_…`."""
    # One call for the randomness (a choice per character costs a system call each).
    number = int.from_bytes(secrets.token_bytes(_BYTES), "big")
    digits = []
    for _ in range(_LENGTH):
        number, digit = divmod(number, len(_ALPHABET))
        digits.append(_ALPHABET[digit])
    return f"{prefix}_{''.join(digits)}"
