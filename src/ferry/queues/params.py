"""Query parameters of the queue protocol, read and range-checked."""

from __future__ import annotations

from collections.abc import Mapping

from ferry.queues.errors import InvalidQueryParameterValue, OutOfRangeQueryParameterValue

__all__ = [
    "MAX_MESSAGE_BYTES",
    "MAX_TTL",
    "MAX_VISIBILITY",
    "bool_param",
    "int_param",
]

MAX_VISIBILITY = 7 * 24 * 3600
"""Seconds: the longest a message can be hidden."""
MAX_TTL = 2**31 - 1
"""Seconds: from version 2017-07-29 a message may live any positive time, or forever (-1)."""
MAX_MESSAGE_BYTES = 64 * 1024


def int_param(query: Mapping[str, str], name: str, default: int, minimum: int, maximum: int) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw, 10)
    except ValueError:
        raise InvalidQueryParameterValue(name, raw) from None
    if not minimum <= value <= maximum:
        raise OutOfRangeQueryParameterValue(name, raw, minimum, maximum)
    return value


def bool_param(query: Mapping[str, str], name: str) -> bool:
    raw = query.get(name)
    if raw is None:
        return False
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise InvalidQueryParameterValue(name, raw)
