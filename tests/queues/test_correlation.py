"""Which queue messages carry a tool call's CorrelationId: one reading for the functions host
and the dashboard."""

from __future__ import annotations

import base64

import pytest

from ferry.queues.correlation import correlation_of, stored_correlation_of


@pytest.mark.parametrize(
    ("body", "found"),
    [
        (b'{"location": "Oslo", "CorrelationId": "abc-1"}', "abc-1"),
        (b'{"CorrelationId": ""}', None),
        (b'{"CorrelationId": 7}', None),
        (b'{"CorrelationId": "' + b"x" * 65 + b'"}', None),
        (b'["CorrelationId"]', None),
        (b"CorrelationId: not json", None),
        (b'{"CorrelationId": "\xff"}', None),
        (b"plain text", None),
    ],
)
def test_a_tool_calls_correlation_id_is_found_in_its_message(
    body: bytes, found: str | None
) -> None:
    assert correlation_of(body) == found


def test_a_stored_message_is_read_as_base64_or_as_text() -> None:
    payload = b'{"function_args": "{}", "CorrelationId": "call-7"}'
    assert stored_correlation_of(base64.b64encode(payload).decode()) == "call-7"
    assert stored_correlation_of(payload.decode()) == "call-7"


def test_an_id_merely_mentioned_elsewhere_in_a_message_is_not_its_correlation() -> None:
    """The dashboard used to match the id as a substring: a message quoting another call's
    id in its arguments would have been taken for that call's."""
    quoting = b'{"note": "\\"call-7\\"", "CorrelationId": "call-8"}'
    assert stored_correlation_of(base64.b64encode(quoting).decode()) == "call-8"
    assert stored_correlation_of("not base64, not json") is None
