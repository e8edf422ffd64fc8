"""A run's timeline as spans, built from what the store keeps: no collector needed.

The spans are the ones `ferry.tracing` exports when OTLP is configured, with the same names
(`invoke_agent`, `chat`, `execute_tool`, the function's invocation) and, where tracing
derives them (the run's and each queue call's), the same ids: a span seen here can be found
in any OTLP viewer. Times come from the run's events (a model turn's event carries its
duration and tokens), the tool-call ledger and the functions host's invocation records.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ferry.tracing import RunTrace, span_id_for
from ferry.types import Json

__all__ = ["ENDED", "Call", "Invocation", "Span", "Timeline", "timeline"]

ENDED = frozenset({"completed", "failed", "cancelled", "expired", "incomplete"})
"""A run's statuses after which its span is closed."""


@dataclass(frozen=True)
class Invocation:
    """One function invocation, as the functions host recorded it."""

    id: str
    function: str
    started_at: int
    """Milliseconds."""
    duration_ms: int
    outcome: str
    dequeue_count: int | None
    error: str | None
    correlation_id: str | None


@dataclass(frozen=True)
class Call:
    """What the timeline needs of a queue call."""

    name: str
    correlation_id: str
    state: str
    started_at: int
    answered_at: int | None
    deadline: int | None
    poisoned: bool = False
    """Whether its message is on the input queue's poison queue."""


@dataclass(frozen=True)
class Span:
    name: str
    kind: str
    """`invoke_agent`, `chat`, `execute_tool` or `invocation`."""
    depth: int
    start: int
    end: int | None
    """Milliseconds; None while it is still open."""
    status: str
    """`ok`, `error` or `open`."""
    detail: str
    span_id: str | None
    """As exported (hex), for the spans whose id tracing derives; None for the others."""
    left: float = 0.0
    width: float = 0.0
    """Its bar, in percent of the timeline's width."""

    @property
    def duration(self) -> int | None:
        return None if self.end is None else self.end - self.start


@dataclass(frozen=True)
class Timeline:
    trace_id: str
    start: int
    end: int
    spans: list[Span]


def _hex(span_id: int) -> str:
    return f"{span_id:016x}"


def _turns(events: Iterable[tuple[int, str, Json]], depth: int) -> list[Span]:
    turns = []
    for at, kind, detail in events:
        if kind != "model.turn":
            continue
        took = detail.get("ms")
        took = took if isinstance(took, int) and took >= 0 else 0
        tokens = ""
        if "input_tokens" in detail:
            tokens = f"{detail['input_tokens']} in · {detail.get('output_tokens', 0)} out tokens"
        turns.append(
            Span(
                f"chat {detail.get('model', '')}",
                "chat",
                depth,
                at - took,
                at,
                "ok",
                " · ".join(part for part in (tokens, str(detail.get("backend") or "")) if part),
                None,
            )
        )
    return turns


def _call_span(call: Call, depth: int) -> Span:
    if call.state == "answered":
        end, status, detail = call.answered_at, "ok", "answered"
    elif call.state == "pending" and call.poisoned:
        end, status, detail = None, "error", "its message is poisoned; waiting until the deadline"
    elif call.state == "pending":
        end, status, detail = None, "open", "waiting for its answer"
    else:
        end, status, detail = call.answered_at or call.deadline, "error", call.state
    return Span(
        f"execute_tool {call.name}",
        "execute_tool",
        depth,
        call.started_at,
        end,
        status,
        f"{detail} · CorrelationId {call.correlation_id}",
        _hex(span_id_for("call:" + call.correlation_id)),
    )


def _invocation_span(invocation: Invocation, depth: int) -> Span:
    detail = invocation.outcome
    if invocation.dequeue_count:
        detail += f" · delivery {invocation.dequeue_count}"
    return Span(
        invocation.function,
        "invocation",
        depth,
        invocation.started_at,
        invocation.started_at + invocation.duration_ms,
        "ok" if invocation.outcome == "succeeded" else "error",
        f"{detail} · invocation {invocation.id[:8]}…",
        None,
    )


def timeline(
    run_id: str,
    run: Mapping[str, Any],
    status: str,
    events: list[tuple[int, str, Json]],
    calls: list[Call],
    invocations: list[Invocation],
    now: int,
) -> Timeline:
    """The run's spans in the order they started, each placed on one shared time axis (the
    run's life; an open span reaches `now`)."""
    trace = RunTrace(run_id, run)
    created = run.get("created_at")
    if events:
        start = min(at for at, _, _ in events)  # milliseconds, where the body has seconds
    elif isinstance(created, int) and created > 0:
        start = created * 1000
    else:
        start = now
    ends = [at for at, kind, _ in events if kind.startswith("run.") and kind[4:] in ENDED]
    end = max(ends) if status in ENDED and ends else None
    agent = run.get("agent") or {}
    name = agent.get("name") or agent.get("id") if isinstance(agent, dict) else agent
    root = Span(
        f"invoke_agent {name or 'agent'}",
        "invoke_agent",
        0,
        start,
        end,
        "open" if end is None else ("ok" if status == "completed" else "error"),
        status,
        _hex(trace.span_id),
    )
    by_call: dict[str | None, list[Invocation]] = {}
    for invocation in invocations:
        by_call.setdefault(invocation.correlation_id, []).append(invocation)
    children: list[tuple[int, list[Span]]] = [(turn.start, [turn]) for turn in _turns(events, 1)]
    for call in calls:
        group = [_call_span(call, 1)]
        group += [_invocation_span(i, 2) for i in by_call.get(call.correlation_id, [])]
        children.append((call.started_at, group))
    children.sort(key=lambda pair: pair[0])
    spans = [root] + [span for _, group in children for span in group]
    last = max([now if s.end is None else s.end for s in spans] + [start + 1])
    return Timeline(
        f"{trace.trace_id:032x}", start, last, [_placed(span, start, last, now) for span in spans]
    )


def _placed(span: Span, start: int, end: int, now: int) -> Span:
    whole = max(end - start, 1)
    left = max(0.0, min(100.0, (span.start - start) * 100 / whole))
    right = max(left, min(100.0, ((now if span.end is None else span.end) - start) * 100 / whole))
    return Span(
        span.name,
        span.kind,
        span.depth,
        span.start,
        span.end,
        span.status,
        span.detail,
        span.span_id,
        round(left, 2),
        round(max(right - left, 0.4), 2),
    )
