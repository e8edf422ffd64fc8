"""The checks that keep the embedded model's tool calls and answers tied to real text, and
the ChatML it is prompted with."""

from __future__ import annotations

import pytest

from ferry.models.backends.local.chatml import render
from ferry.models.backends.local.grounding import (
    answer_carries,
    clauses,
    extend_name,
    grounded,
    result_text,
    spans,
)

LOCATION = {"type": "object", "properties": {"location": {"type": "string"}}}


@pytest.mark.parametrize(
    ("arguments", "text", "expected"),
    [
        ({"location": "Seattle, WA"}, "What is the weather in Seattle, WA?", True),
        ({"location": "seattle,   wa"}, "What is the weather in Seattle, WA?", True),
        ({"location": "Paris"}, "Thanks, that's all!", False),
        ({"location": "cat"}, "Write a poem about cats", False),
        ({"location": ""}, "Weather please", False),
        ({"days": 3, "location": "Oslo"}, "Oslo weather for the next 3 days", True),
        ({"days": 5.0, "location": "Oslo"}, "Oslo weather for the next 5 days", True),
        ({"days": 4}, "Oslo weather for the next 3 days", False),
        ({"metric": True, "places": ["Rome", "Oslo"]}, "Rome or Oslo?", True),
        ({"places": ["Rome", "Lima"]}, "Rome or Oslo?", False),
    ],
)
def test_arguments_must_come_from_the_users_words(
    arguments: dict[str, object], text: str, expected: bool
) -> None:
    assert grounded(arguments, text, LOCATION) is expected


def test_values_the_schema_enumerates_need_no_grounding() -> None:
    schema = {
        "type": "object",
        "properties": {"unit": {"enum": ["celsius", "fahrenheit"]}, "location": {}},
    }
    assert grounded({"unit": "celsius", "location": "Oslo"}, "How cold is Oslo?", schema)
    assert not grounded({"unit": "kelvin", "location": "Oslo"}, "How cold is Oslo?", schema)


def test_messages_are_cut_where_they_may_ask_for_separate_things() -> None:
    assert clauses("What's the weather in Paris, and what time is it in Tokyo?") == [
        "What's the weather in Paris,",
        "what time is it in Tokyo?",
    ]
    assert clauses("Weather in Oslo? Then the time in Rome.") == [
        "Weather in Oslo?",
        "Then the time in Rome.",
    ]
    assert clauses("What is the weather in Seattle, WA?") == ["What is the weather in Seattle, WA?"]
    assert clauses("   ") == []


def test_a_queue_answer_is_read_for_its_value() -> None:
    assert result_text('{"Value": "Weather is 74 degrees", "CorrelationId": "1"}') == (
        "Weather is 74 degrees"
    )
    assert result_text('{"temperature": 74}') == '{"temperature": 74}'
    assert result_text("  plain text  ") == "plain text"
    assert result_text("[1, 2]") == "[1, 2]"


def test_an_answer_must_state_the_result() -> None:
    fact = "Weather is 74 degrees and sunny in Seattle, WA"
    assert answer_carries(f"{fact}. Enjoy!", fact)
    assert answer_carries("weather is 74 degrees and  sunny in seattle, wa", fact)
    assert not answer_carries("The weather in Seattle is 74 degrees and sunny.", fact)
    assert not answer_carries("It is sunny.", fact)
    long = "Readings:\nTemperature 74 F, humidity 40 %, wind 12 mph from the north-west."
    assert answer_carries("It is 74 F with 40 % humidity and 12 mph wind.", long)
    assert not answer_carries("It is 74 F and windy.", long)
    assert answer_carries("anything", "")


def test_spans_are_the_runs_of_the_users_words() -> None:
    found = spans("Weather in Seattle, WA?")
    assert {"Seattle, WA", "Seattle", "WA", "Weather in Seattle, WA"} <= set(found)
    assert all(not s.endswith(("?", ",")) for s in found)
    assert "Weather WA" not in found
    assert max(len(s.split()) for s in spans(" ".join(["w"] * 20), longest=3)) == 3
    assert spans("") == []


def test_a_name_cut_short_is_carried_over_its_capitalised_words() -> None:
    text = "Current time in Buenos Aires, please."
    assert extend_name("Buenos", text) == "Buenos Aires"
    assert extend_name("Buenos Aires", text) == "Buenos Aires"
    assert extend_name("time", text) == "time"
    assert extend_name("Seattle", "Weather in Seattle, WA") == "Seattle"
    assert extend_name("Oslo", "no such place") == "Oslo"


def test_chatml_turns_and_an_open_reply() -> None:
    text = render([("system", " Be brief. "), ("user", "Hi")], reply='{"tool": "')
    assert text == (
        "<|im_start|>system\nBe brief.<|im_end|>\n"
        "<|im_start|>user\nHi<|im_end|>\n"
        '<|im_start|>assistant\n{"tool": "'
    )
    assert render([("system", "s")], role="user").endswith("<|im_start|>user\n")
    assert render([("user", "x")], reply=None) == "<|im_start|>user\nx<|im_end|>\n"
