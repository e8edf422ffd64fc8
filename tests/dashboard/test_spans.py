"""The run timeline built from stored records: the same span names and derived ids as the
exported trace, children under their parents, open spans reaching now."""

from __future__ import annotations

from ferry.dashboard.spans import Call, Invocation, timeline
from ferry.tracing import RunTrace, span_id_for

RUN = {"created_at": 1_000, "agent": {"id": "asst_1", "name": "weather"}, "model": "m"}
EVENTS = [
    (1_000_000, "run.queued", {}),
    (1_000_050, "run.in_progress", {}),
    (
        1_000_400,
        "model.turn",
        {"model": "m", "backend": "local", "ms": 300, "input_tokens": 9, "output_tokens": 4},
    ),
    (1_000_450, "queue.put", {}),
    (1_001_400, "model.turn", {"model": "m", "backend": "local"}),  # written before "ms"
    (1_001_500, "run.completed", {}),
]
CALL = Call("GetWeather", "corr-1", "answered", 1_000_450, 1_001_000, 1_010_000)
INVOKED = Invocation("inv-1", "GetWeather", 1_000_500, 200, "succeeded", 1, None, "corr-1")


def test_a_completed_run_is_its_spans_in_order() -> None:
    line = timeline("run_1", RUN, "completed", EVENTS, [CALL], [INVOKED], now=2_000_000)
    assert [(s.kind, s.name, s.depth) for s in line.spans] == [
        ("invoke_agent", "invoke_agent weather", 0),
        ("chat", "chat m", 1),
        ("execute_tool", "execute_tool GetWeather", 1),
        ("invocation", "GetWeather", 2),
        ("chat", "chat m", 1),
    ]
    root, chat, tool, invocation, last = line.spans
    assert (root.start, root.end, root.status) == (1_000_000, 1_001_500, "ok")
    assert (chat.start, chat.end, chat.duration) == (1_000_100, 1_000_400, 300)
    assert "9 in · 4 out tokens" in chat.detail
    assert last.duration == 0 and "tokens" not in last.detail
    assert (tool.start, tool.end, tool.status) == (1_000_450, 1_001_000, "ok")
    assert (invocation.end, invocation.status) == (1_000_700, "ok")
    # The ids tracing gives the spans it can name in advance.
    assert line.trace_id == f"{RunTrace('run_1', RUN).trace_id:032x}"
    assert root.span_id == f"{span_id_for('run:run_1'):016x}"
    assert tool.span_id == f"{span_id_for('call:corr-1'):016x}"
    assert chat.span_id is None and invocation.span_id is None
    # The bars share one axis: the run's whole life.
    assert (root.left, root.width) == (0.0, 100.0)
    assert chat.left == round(100 * 100 / 1_500, 2)
    assert all(0 <= s.left <= 100 and 0 < s.width <= 100 for s in line.spans)


def test_a_waiting_run_reaches_now_and_a_poisoned_call_is_an_error() -> None:
    waiting = Call("GetWeather", "corr-2", "pending", 1_000_450, None, 1_100_000, poisoned=True)
    failed = Invocation("inv-2", "GetWeather", 1_000_500, 20, "failed", 5, "boom", "corr-2")
    line = timeline("run_2", RUN, "in_progress", EVENTS[:4], [waiting], [failed], now=1_003_000)
    root, _, tool, invocation = line.spans
    assert root.end is None and root.status == "open" and line.end == 1_003_000
    assert tool.end is None and tool.status == "error" and "poisoned" in tool.detail
    assert invocation.status == "error" and "delivery 5" in invocation.detail
    assert tool.left + tool.width <= 100.0


def test_a_timed_out_call_ends_at_its_deadline() -> None:
    late = Call("GetWeather", "corr-3", "timed_out", 1_000_450, None, 1_002_450)
    events = [*EVENTS[:4], (1_002_500, "run.failed", {"code": "tool_timeout"})]
    line = timeline("run_3", {**RUN, "agent": None}, "failed", events, [late], [], now=9_999_999)
    root, _, tool = line.spans
    assert root.name == "invoke_agent agent" and root.status == "error"
    assert (tool.end, tool.status, tool.detail.split(" · ")[0]) == (1_002_450, "error", "timed_out")
