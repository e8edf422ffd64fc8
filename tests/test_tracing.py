"""The trace context's pure logic (the spans of a real run: tests/agents/test_tracing.py)."""

from __future__ import annotations

from ferry import tracing

# Unit: trace context -------------------------------------------------------------------------


def test_traceparent_is_parsed_strictly() -> None:
    good = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    assert tracing.parse_traceparent(good) == (
        0x0AF7651916CD43DD8448EB211C80319C,
        0xB7AD6B7169203331,
    )
    assert tracing.parse_traceparent(good.upper()) is not None
    for bad in [
        None,
        42,
        "",
        "garbage",
        "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",  # unknown version
        "00-00000000000000000000000000000000-b7ad6b7169203331-01",  # all-zero trace id
        "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",  # all-zero span id
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b71692033-01",  # short span id
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",
        "00-0af7651916cd43dd8448eb211c80319g-b7ad6b7169203331-01",  # not hex
    ]:
        assert tracing.parse_traceparent(bad) is None, bad
    assert tracing.format_traceparent(*tracing.parse_traceparent(good) or (0, 0)) == good


def test_span_ids_fixed_in_advance_are_stable_and_distinct() -> None:
    assert tracing.span_id_for("run:run_a") == tracing.span_id_for("run:run_a")
    assert tracing.span_id_for("run:run_a") != tracing.span_id_for("run:run_b")
    assert 0 < tracing.span_id_for("call:x") < 2**64


def test_tracing_stays_off_without_an_endpoint_or_when_disabled() -> None:
    assert not tracing.configure("ferry", {})
    assert not tracing.configure(
        "ferry", {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_SDK_DISABLED": "true"}
    )
    assert not tracing.configure(
        "ferry",
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        },
    )
    assert not tracing.enabled()
