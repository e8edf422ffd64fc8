"""Structured inputs filled into an agent's definition (pure rules)."""

from __future__ import annotations

import pytest

from ferry.agents.errors import BadRequest
from ferry.agents.v2.structured import check_declared, fill_in

DECLARED = check_declared(
    {
        "file": {"required": True, "schema": {"type": "string"}},
        "tone": {"default_value": "brief"},
        "extra": {"description": "optional, no default"},
    }
)
DEFINITION = {
    "instructions": "Be {{tone}}. {{extra}}",
    "tools": [{"type": "code_interpreter", "file_ids": ["{{file}}"]}],
    "structured_inputs": DECLARED,
}


def test_values_and_defaults_fill_their_places() -> None:
    filled = fill_in(DEFINITION, {"file": "assistant-1"})
    assert filled["tools"][0]["file_ids"] == ["assistant-1"]
    assert filled["instructions"] == "Be brief. {{extra}}"  # not given, no default: left
    assert DEFINITION["tools"][0]["file_ids"] == ["{{file}}"]  # the stored one is untouched


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ({}, "needs the structured input 'file'"),
        ({"file": 7}, "structured input 'file'"),
        ({"file": "f", "nope": 1}, "'nope' is not declared"),
        ("file", "must be an object"),
    ],
)
def test_bad_values_are_400(given: object, says: str) -> None:
    with pytest.raises(BadRequest, match=says):
        fill_in(DEFINITION, given)


def test_inputs_for_an_agent_that_declares_none_are_refused() -> None:
    with pytest.raises(BadRequest, match="declares no structured inputs"):
        fill_in({"instructions": "x"}, {"a": 1})
    assert fill_in({"instructions": "x"}, None) == {"instructions": "x"}


@pytest.mark.parametrize(
    "declared",
    [["a"], {"bad name": {}}, {"a": {"required": "yes"}}, {"a": {"schema": {"type": 5}}}],
)
def test_bad_declarations_are_400(declared: object) -> None:
    with pytest.raises(BadRequest):
        check_declared(declared)
