"""JSON text on the hot path: stored bodies and stream events, with orjson.

Every run writes and reads its body several times and sends a dozen stream events, each a
JSON document: the standard library's encoder was the largest single cost of a run's Python
time. Values orjson refuses (integers past 64 bits, lone surrogates) fall back to the
standard library, so what can be stored is unchanged.
"""

from __future__ import annotations

import json
from copy import deepcopy
from typing import Any

import orjson

__all__ = ["copy", "dumps", "loads"]

_OPTIONS = orjson.OPT_NON_STR_KEYS


def dumps(value: Any) -> str:
    """Compact JSON text (UTF-8 kept as is, as any JSON reader accepts)."""
    try:
        return orjson.dumps(value, option=_OPTIONS).decode()
    except TypeError:
        return json.dumps(value, separators=(",", ":"))


def loads(text: str | bytes) -> Any:
    return orjson.loads(text)


def copy(value: Any) -> Any:
    """A deep copy of a JSON value (a stored body): through orjson, many times faster than
    `copy.deepcopy`; values orjson refuses are copied by `copy.deepcopy` instead."""
    try:
        return orjson.loads(orjson.dumps(value, option=_OPTIONS))
    except TypeError:
        return deepcopy(value)
