"""Files Ferry rewrites while others may read them (records, keys, certificates)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["replace_file"]


def replace_file(path: Path, data: bytes, *, private: bool = False) -> None:
    """Write `data` beside `path` and rename it over, so a reader sees the old content or the
    new, never half of either. `private` files are readable by their owner only, from the
    moment they exist."""
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    descriptor = os.open(
        temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644
    )
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    temporary.replace(path)
