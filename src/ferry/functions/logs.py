"""Console logs like `func start`'s: every line of a function's own logging carries the
invocation id and function name, and the host says when each invocation starts and ends."""

from __future__ import annotations

import contextvars
import logging
import sys
from datetime import datetime

__all__ = ["current_invocation", "host_log", "install_console_logging"]

current_invocation: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar(
    "ferry_invocation", default=None
)
"""(function name, invocation id) of the invocation running in this context."""

host_log = logging.getLogger("ferry.functions")


class _InvocationFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        running = current_invocation.get()
        record.ferry_function, record.ferry_invocation = running or ("", "")
        return True


class _ConsoleFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
        message = record.getMessage()
        if record.exc_info:
            message = f"{message}\n{self.formatException(record.exc_info)}"
        function = getattr(record, "ferry_function", "")
        if function and not record.name.startswith("ferry"):
            invocation = getattr(record, "ferry_invocation", "")
            return f"[{stamp}] {function}: {message} (Id={invocation})"
        return f"[{stamp}] {message}"


def install_console_logging(level: int = logging.INFO) -> None:
    """Route the app's `logging` (root logger) and the host's to stderr, once."""
    root = logging.getLogger()
    if any(getattr(h, "_ferry", False) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_ConsoleFormatter())
    handler.addFilter(_InvocationFilter())
    handler._ferry = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    # Libraries' own chatter (alembic says each migration it runs) is not the app's log.
    for noisy in ("azure", "uvicorn.access", "httpx", "aiohttp", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
