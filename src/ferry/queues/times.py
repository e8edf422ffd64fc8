"""The two time formats of the queue protocol: RFC 1123 in messages and headers, ISO 8601 in
access policies and error bodies."""

from __future__ import annotations

import functools
import time
from datetime import UTC, datetime

__all__ = ["iso8601", "iso8601_7", "parse_iso8601", "rfc1123"]

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def rfc1123(millis: int) -> str:
    """`Tue, 24 Nov 2026 10:07:24 GMT`, the format of message times and the Date header."""
    return _rfc1123_seconds(millis // 1000)


@functools.lru_cache(maxsize=1024)
def _rfc1123_seconds(seconds: int) -> str:
    # A response carries up to four times, mostly the same few seconds: format each once.
    t = time.gmtime(seconds)
    return (
        f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT"
    )


def iso8601(moment: datetime) -> str:
    """`2026-11-24T10:07:24Z`, as stored access policies show their times."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso8601_7(millis: int) -> str:
    """`2026-11-24T10:07:24.1230000Z`: seven fractional digits, as error bodies show the time."""
    t = time.gmtime(millis // 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", t) + f".{millis % 1000:03d}0000Z"


def parse_iso8601(value: str) -> datetime:
    """An ISO 8601 time (date-only allowed); naive times are UTC. Raises ValueError."""
    moment = datetime.fromisoformat(value.strip())
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
