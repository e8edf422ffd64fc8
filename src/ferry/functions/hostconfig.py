"""`host.json`: the settings of the Functions host that a Python app can change.

Only what Ferry honours is read; the rest of the file is accepted and ignored, as the real
host ignores settings of extensions it has not loaded. Time spans use the host's
`[d.]hh:mm:ss[.fff]` form.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ferry.functions.errors import HostConfigError

__all__ = [
    "HostConfig",
    "QueueOptions",
    "load_host_config",
    "parse_timespan",
    "read_json_object",
]

_TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d{1,7}))?$")
DEFAULT_FUNCTION_TIMEOUT = 30 * 60.0


def parse_timespan(value: object, where: str) -> float:
    """Seconds in a `[d.]hh:mm:ss[.fff]` string (numbers are taken as seconds)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    match = _TIMESPAN.match(value) if isinstance(value, str) else None
    if match is None:
        raise HostConfigError(f"host.json {where}: {value!r} is not a time span like '00:00:02'")
    days, hours, minutes, seconds, fraction = match.groups()
    total = int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + int(seconds)
    return total + (float(f"0.{fraction}") if fraction else 0.0)


def _development() -> bool:
    return os.environ.get("AZURE_FUNCTIONS_ENVIRONMENT", "").lower() == "development"


@dataclass(frozen=True)
class QueueOptions:
    """`extensions.queues`, with the real host's defaults."""

    batch_size: int = 16
    new_batch_threshold: int = 8
    max_polling_interval: float = 60.0
    visibility_timeout: float = 0.0
    max_dequeue_count: int = 5
    message_encoding: Literal["base64", "none"] = "base64"


@dataclass(frozen=True)
class HostConfig:
    route_prefix: str = "api"
    function_timeout: float | None = DEFAULT_FUNCTION_TIMEOUT
    queues: QueueOptions = field(default_factory=QueueOptions)


def _int(section: dict[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise HostConfigError(
            f"host.json extensions.queues.{key}: {value!r} is not a whole number "
            f"from {low} to {high}"
        )
    return value


def _queue_options(section: object) -> QueueOptions:
    if section is None:
        section = {}
    if not isinstance(section, dict):
        raise HostConfigError("host.json extensions.queues must be an object")
    cores = os.cpu_count() or 1
    batch = _int(section, "batchSize", 16, 1, 32)
    threshold = _int(section, "newBatchThreshold", (batch // 2) * cores, 0, 10_000)
    default_poll = 2.0 if _development() else 60.0
    poll = parse_timespan(
        section.get("maxPollingInterval", default_poll), "extensions.queues.maxPollingInterval"
    )
    if poll < 0.1:
        raise HostConfigError("host.json extensions.queues.maxPollingInterval must be ≥ 100 ms")
    visibility = parse_timespan(
        section.get("visibilityTimeout", 0), "extensions.queues.visibilityTimeout"
    )
    if visibility > 7 * 86400:
        raise HostConfigError("host.json extensions.queues.visibilityTimeout must be ≤ 7 days")
    encoding = str(section.get("messageEncoding", "base64")).lower()
    if encoding not in ("base64", "none"):
        raise HostConfigError(
            f"host.json extensions.queues.messageEncoding: {encoding!r} is not base64 or none"
        )
    return QueueOptions(
        batch_size=batch,
        new_batch_threshold=threshold,
        max_polling_interval=poll,
        visibility_timeout=visibility,
        max_dequeue_count=_int(section, "maxDequeueCount", 5, 1, 1_000_000),
        message_encoding="base64" if encoding == "base64" else "none",
    )


def read_json_object(path: Path) -> dict[str, Any] | None:
    """A JSON object from an app file (None when the file is absent; BOM tolerated)."""
    if not path.exists():
        return None
    try:
        document = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HostConfigError(f"{path} is not readable JSON: {exc}") from None
    if not isinstance(document, dict):
        raise HostConfigError(f"{path} must hold a JSON object")
    return document


def load_host_config(folder: Path) -> HostConfig:
    """The app's host.json (all defaults when the file is absent)."""
    document = read_json_object(folder / "host.json")
    if document is None:
        return HostConfig(queues=_queue_options({}))
    extensions = document.get("extensions") or {}
    if not isinstance(extensions, dict):
        raise HostConfigError("host.json extensions must be an object")
    http = extensions.get("http") or {}
    prefix = http.get("routePrefix", "api") if isinstance(http, dict) else "api"
    if not isinstance(prefix, str):
        raise HostConfigError("host.json extensions.http.routePrefix must be a string")
    timeout_value = document.get("functionTimeout")
    timeout: float | None = DEFAULT_FUNCTION_TIMEOUT
    if timeout_value in ("-1", -1):
        timeout = None
    elif timeout_value is not None:
        timeout = parse_timespan(timeout_value, "functionTimeout")
        if timeout <= 0:
            raise HostConfigError("host.json functionTimeout must be positive (or -1)")
    return HostConfig(
        route_prefix=prefix.strip("/"),
        function_timeout=timeout,
        queues=_queue_options(extensions.get("queues")),
    )
