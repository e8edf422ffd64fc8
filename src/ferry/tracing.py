"""OpenTelemetry traces of runs, model calls, tool calls and function invocations.

Off unless the standard variables ask for it (`OTEL_EXPORTER_OTLP_ENDPOINT` or
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, and `OTEL_SDK_DISABLED` not true): nothing is sent
anywhere by default, and what was said (messages, tool arguments and results) only with
`OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`. Spans follow the GenAI semantic
conventions (`invoke_agent`, `chat`, `execute_tool`) and are exported over OTLP/HTTP with
protobuf.

A run outlives any one process (it waits on queues, its worker may change), so the spans
that cover its whole life, `invoke_agent {agent}` and each queue call's `execute_tool
{tool}`, are recorded when they end, with their start time and with span ids known from the
start: derived from the run's id and the call's CorrelationId. What happens in between
(model calls here, the function's invocation in the functions host, from the `traceparent`
its message carries) can name them as parents before they exist. A client's own
`traceparent` header is kept with the run, so its trace goes on.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import logging
import os
import re
from collections.abc import Iterator, Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import (
    NonRecordingSpan,
    Span,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
)

__all__ = [
    "CAPTURE_CONTENT",
    "TRACEPARENT",
    "RunTrace",
    "configure",
    "enabled",
    "incoming",
    "invocation_span",
    "parse_traceparent",
    "receive_traceparent",
    "records_content",
    "span_id_for",
]

log = logging.getLogger("ferry.tracing")

TRACEPARENT = "traceparent"
"""The W3C header, and the field of a tool call's queue message that carries the same."""

_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_SCOPE = "ferry"
_enabled = False
_incoming: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "ferry_traceparent", default=None
)
_fixed_span_id: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "ferry_fixed_span_id", default=None
)
_fixed_trace_id: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "ferry_fixed_trace_id", default=None
)


CAPTURE_CONTENT = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
"""The GenAI instrumentations' opt-in for recording what was said: off unless `true`."""
_content = False


def records_content() -> bool:
    """Whether chat spans carry the messages (`gen_ai.input.messages`, `gen_ai.output.messages`):
    only when tracing is on and the user opted in with `CAPTURE_CONTENT`."""
    return _enabled and _content


def _wanted(environ: Mapping[str, str]) -> bool:
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return bool(
        environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        or environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    )


def configure(service: str, environ: Mapping[str, str] | None = None) -> bool:
    """Install an exporting tracer provider if the environment asks for one; True if so.

    The OTLP exporter reads the standard variables itself (endpoint, headers, timeout);
    only `http/protobuf` is spoken, and another protocol asked for is said so in the log."""
    global _enabled, _content
    environ = os.environ if environ is None else environ
    if _enabled or not _wanted(environ):
        return _enabled
    protocol = environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or environ.get(
        "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"
    )
    if protocol != "http/protobuf":
        log.warning(
            "OTEL_EXPORTER_OTLP_PROTOCOL=%s: Ferry exports traces over http/protobuf only; "
            "tracing stays off",
            protocol,
        )
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.id_generator import RandomIdGenerator

    class _Ids(RandomIdGenerator):
        """Random ids, except for a span recorded at its end (`_at`), whose ids were fixed
        in advance."""

        def generate_span_id(self) -> int:
            fixed = _fixed_span_id.get()
            return fixed if fixed is not None else super().generate_span_id()

        def generate_trace_id(self) -> int:
            fixed = _fixed_trace_id.get()
            return fixed if fixed is not None else super().generate_trace_id()

    name = environ.get("OTEL_SERVICE_NAME") or service
    provider = TracerProvider(resource=Resource.create({"service.name": name}), id_generator=_Ids())
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _content = environ.get(CAPTURE_CONTENT, "").strip().lower() == "true"
    _enabled = True
    return True


def shutdown() -> None:
    """Export what is pending (at the end of a process)."""
    provider = trace.get_tracer_provider()
    stop = getattr(provider, "shutdown", None)
    if _enabled and stop is not None:
        stop()


def enabled() -> bool:
    return _enabled


def _tracer() -> trace.Tracer:
    return trace.get_tracer(_SCOPE)


# Trace context ------------------------------------------------------------------------------


def parse_traceparent(value: object) -> tuple[int, int] | None:
    """(trace id, span id) of a W3C `traceparent`, or None if it is not a valid one."""
    if not isinstance(value, str):
        return None
    match = _TRACEPARENT.match(value.strip().lower())
    if match is None:
        return None
    trace_id, span_id = int(match.group(1), 16), int(match.group(2), 16)
    if not trace_id or not span_id:
        return None
    return trace_id, span_id


def format_traceparent(trace_id: int, span_id: int) -> str:
    return f"00-{trace_id:032x}-{span_id:016x}-01"


def receive_traceparent(value: str | None) -> contextvars.Token[str | None]:
    """Remember a request's `traceparent` header for the run it may create."""
    return _incoming.set(value if parse_traceparent(value) else None)


def incoming() -> str | None:
    """The `traceparent` of the request being served, if it sent a valid one."""
    return _incoming.get()


def span_id_for(key: str) -> int:
    """A span id that anyone who knows `key` can compute: how a span recorded at its end is
    named as parent by spans that happen before it."""
    value = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")
    return value or 1


def _trace_id_for(key: str) -> int:
    value = int.from_bytes(hashlib.sha256(("trace:" + key).encode()).digest()[:16], "big")
    return value or 1


def _context(trace_id: int, span_id: int) -> Any:
    parent = SpanContext(trace_id, span_id, is_remote=True, trace_flags=TraceFlags(1))
    return trace.set_span_in_context(NonRecordingSpan(parent))


# Spans of a run ----------------------------------------------------------------------------


class RunTrace:
    """The spans of one run, from its id and what it stored at its creation (the client's
    `traceparent`, if any)."""

    def __init__(self, run_id: str, run: Mapping[str, Any]) -> None:
        self.run_id = run_id
        self.run = run
        client = parse_traceparent(run.get(TRACEPARENT))
        self.trace_id = client[0] if client else _trace_id_for(run_id)
        self.client_span = client[1] if client else None
        self.span_id = span_id_for("run:" + run_id)

    def _agent(self) -> dict[str, Any]:
        agent = self.run.get("agent") or {}
        attributes: dict[str, Any] = {}
        for key, field in (("id", "id"), ("name", "name"), ("version", "version")):
            if agent.get(field) is not None:
                attributes[f"gen_ai.agent.{key}"] = str(agent[field])
        return attributes

    def call_traceparent(self, correlation_id: str) -> str:
        """What a queue call's message carries: its `execute_tool` span as the parent."""
        return format_traceparent(self.trace_id, span_id_for("call:" + correlation_id))

    @contextlib.contextmanager
    def chat(self, model: str, conversation: str | None) -> Iterator[Span]:
        attributes = {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": model,
            **self._agent(),
        }
        if conversation:
            attributes["gen_ai.conversation.id"] = conversation
        with _tracer().start_as_current_span(
            f"chat {model}",
            context=_context(self.trace_id, self.span_id),
            kind=SpanKind.CLIENT,
            attributes=attributes,
        ) as span:
            yield span

    def tool_done(
        self,
        name: str,
        call_id: str,
        correlation_id: str,
        started_ms: int,
        ended_ms: int,
        error: str | None = None,
    ) -> None:
        """The `execute_tool` span of a call that went over queues, now that it is over."""
        attributes = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": name,
            "gen_ai.tool.call.id": call_id,
            "gen_ai.tool.type": "function",
            "messaging.message.correlation_id": correlation_id,
        }
        _at(
            f"execute_tool {name}",
            self.trace_id,
            self.span_id,
            span_id_for("call:" + correlation_id),
            started_ms,
            ended_ms,
            attributes,
            error,
        )

    def ended(
        self, status: str, conversation: str | None, ended_ms: int, error: str | None = None
    ) -> None:
        """The `invoke_agent` span, once the run has ended, from its creation to now."""
        agent = self.run.get("agent") or {}
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.request.model": str(self.run.get("model") or ""),
            "ferry.run.id": self.run_id,
            "ferry.run.status": status,
            **self._agent(),
        }
        if conversation:
            attributes["gen_ai.conversation.id"] = conversation
        usage = self.run.get("usage") or {}
        if usage:
            attributes["gen_ai.usage.input_tokens"] = int(usage.get("input_tokens") or 0)
            attributes["gen_ai.usage.output_tokens"] = int(usage.get("output_tokens") or 0)
        _at(
            f"invoke_agent {agent.get('name') or agent.get('id') or 'agent'}",
            self.trace_id,
            self.client_span,
            self.span_id,
            int(self.run.get("created_at") or ended_ms // 1000) * 1000,
            ended_ms,
            attributes,
            error,
        )


def _at(
    name: str,
    trace_id: int,
    parent_span: int | None,
    span_id: int,
    started_ms: int,
    ended_ms: int,
    attributes: Mapping[str, Any],
    error: str | None,
) -> None:
    """Record a span that already happened, with the id it was given in advance; without a
    parent it is the root of trace `trace_id`."""
    if not _enabled:
        return
    context = (
        _context(trace_id, parent_span)
        if parent_span is not None
        else trace.set_span_in_context(trace.INVALID_SPAN)
    )
    fixed_span, fixed_trace = _fixed_span_id.set(span_id), _fixed_trace_id.set(trace_id)
    try:
        span = _tracer().start_span(
            name,
            context=context,
            kind=SpanKind.INTERNAL,
            attributes=dict(attributes),
            start_time=started_ms * 1_000_000,
        )
    finally:
        _fixed_span_id.reset(fixed_span)
        _fixed_trace_id.reset(fixed_trace)
    if error:
        span.set_status(Status(StatusCode.ERROR, error))
        span.set_attribute("error.type", error.split(":")[0][:100])
    span.end(end_time=max(ended_ms, started_ms) * 1_000_000)


# The functions host's side ---------------------------------------------------------------------


@contextlib.contextmanager
def invocation_span(
    function: str, queue: str | None, body: bytes | str | None
) -> Iterator[Span | None]:
    """The span of a queue-triggered invocation: a child of the tool call that put its message
    when the message carries a `traceparent`, else a trace of its own."""
    if not _enabled:
        yield None
        return
    parent = None
    carried = _carried(body)
    if carried is not None:
        parent = _context(*carried)
    attributes = {"faas.trigger": "pubsub", "faas.name": function}
    if queue:
        attributes["messaging.destination.name"] = queue
        attributes["messaging.system"] = "azure_storage_queue"
    with _tracer().start_as_current_span(
        function, context=parent, kind=SpanKind.CONSUMER, attributes=attributes
    ) as span:
        yield span


def _carried(body: bytes | str | None) -> tuple[int, int] | None:
    if body is None:
        return None
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    if TRACEPARENT not in text:
        return None
    try:
        from ferry import jsontext

        value = jsontext.loads(text)
    except ValueError:
        return None
    return parse_traceparent(value.get(TRACEPARENT)) if isinstance(value, dict) else None
