"""Object ids in the service's style: a type prefix and 24 random letters and digits."""

from __future__ import annotations

import secrets
import string

__all__ = ["new_id"]

_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str) -> str:
    """`asst_…`, `thread_…`, `msg_…`, `run_…`, `step_…`, `call_…`."""
    return prefix + "_" + "".join(secrets.choice(_ALPHABET) for _ in range(24))
