"""`ToolCaller.decide`: the decision alone, as the benchmark measures it, on the real
embedded model; it writes no answer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ferry.models.backend import ChatMessage, ChatRequest
from ferry.models.backends.local.toolcalling import ToolCaller
from ferry.models.backends.local.weights import find_weights
from tests.conftest import require_embedded_model
from tests.models.test_local_backend import SYSTEM, WEATHER

require_embedded_model()


@pytest.fixture(scope="module")
def caller() -> Iterator[ToolCaller]:
    from ferry.models.backends.local.llamacpp import LlamaRunner

    weights = find_weights()
    assert weights is not None
    yield ToolCaller(LlamaRunner(weights))


def test_a_weather_question_is_decided_without_an_answer(caller: ToolCaller) -> None:
    request = ChatRequest(
        "any", [SYSTEM, ChatMessage("user", "What is the weather in Seattle, WA?")], tools=[WEATHER]
    )
    outcome = caller.decide(request)
    assert [(c.name, c.arguments) for c in outcome.calls] == [
        ("GetWeather", {"location": "Seattle, WA"})
    ]
    assert outcome.text is None or outcome.text == ""


def test_without_tools_or_a_user_message_nothing_is_decided(caller: ToolCaller) -> None:
    assert caller.decide(ChatRequest("any", [SYSTEM, ChatMessage("user", "hi")])).calls == []
    assert caller.decide(ChatRequest("any", [SYSTEM], tools=[WEATHER])).calls == []


def test_the_call_threshold_is_the_callers_and_the_evidence_is_reported(
    caller: ToolCaller,
) -> None:
    """Another model scores on its own scale, so its threshold is configurable; the
    evidence each clause reached is kept so that a benchmark can choose one."""
    request = ChatRequest(
        "any", [SYSTEM, ChatMessage("user", "What is the weather in Seattle, WA?")], tools=[WEATHER]
    )
    usual = caller.decide(request)
    [strength] = usual.evidence
    assert usual.calls and strength > caller.call_threshold
    strict = ToolCaller(caller.runner, call_threshold=strength + 0.01)
    held_back = strict.decide(request)
    assert held_back.calls == []
    assert held_back.evidence == pytest.approx([strength])
