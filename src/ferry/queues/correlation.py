"""The `CorrelationId` that ties an `azure_function` tool call's queue message to the answer
and to the invocation it triggered.

Read in one place so that the functions host (which records it with each invocation) and
the dashboard (which finds a waiting call's message in a poison queue) agree on which
messages carry one: a JSON object whose `CorrelationId` is a string of 1 to 64 characters.
"""

from __future__ import annotations

from ferry import jsontext
from ferry.queues.encoding import decode_body

__all__ = ["MAX_LENGTH", "correlation_of", "stored_correlation_of"]

MAX_LENGTH = 64


def correlation_of(body: bytes) -> str | None:
    """The CorrelationId of a message's payload; None for any other message."""
    if b"CorrelationId" not in body:
        return None
    try:
        value = jsontext.loads(body)
    except ValueError:
        return None
    found = value.get("CorrelationId") if isinstance(value, dict) else None
    return found if isinstance(found, str) and 0 < len(found) <= MAX_LENGTH else None


def stored_correlation_of(text: str) -> str | None:
    """The same for a message as stored: base64 of the payload (as the agent service puts
    tool calls), or the payload's text."""
    decoded = decode_body(text)
    found = correlation_of(decoded) if decoded is not None else None
    return found if found is not None else correlation_of(text.encode())
