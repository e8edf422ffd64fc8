"""Checks that keep a small model honest: a tool call's arguments must come from what the user
wrote, and an answer given after a tool ran must carry the tool's result.

A 135M-parameter model invents plausible arguments ("Thanks!" → the weather in Paris) and,
asked to answer from a result, sometimes drops the number it was given. These checks are
pure functions of text, so the embedded backend can apply them (and the benchmark can count
how often they fire) without trusting the model's judgement.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

__all__ = [
    "answer_carries",
    "clauses",
    "extend_name",
    "grounded",
    "result_text",
    "spans",
]

_SPACE = re.compile(r"\s+")
_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)?")
_WORD = re.compile(r"\S+")
_EDGE = " ?!.,;:'\"()"
_NAME_GOES_ON = re.compile(r"\s+([A-Z][\w'-]*)")
_CLAUSE = re.compile(r"(?<=[?!.;])\s+|\s+(?:and then|and also|and|then)\s+", re.IGNORECASE)


def _normal(text: str) -> str:
    return _SPACE.sub(" ", text).strip().casefold()


def _leaves(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    else:
        yield value


def _enum_values(schema: Any) -> set[str]:
    """Every string that `schema` lists in an `enum` or `const`: those are the tool's words,
    not the user's, so they need no grounding."""
    found: set[str] = set()
    if isinstance(schema, dict):
        for key, item in schema.items():
            if key == "enum" and isinstance(item, list):
                found.update(str(v) for v in item)
            elif key == "const":
                found.add(str(item))
            else:
                found |= _enum_values(item)
    elif isinstance(schema, list):
        for item in schema:
            found |= _enum_values(item)
    return found


def grounded(arguments: dict[str, Any], source: str, schema: dict[str, Any] | None = None) -> bool:
    """Whether every string and number in `arguments` occurs in `source` (the user's words),
    ignoring case and spacing. Values the tool's schema enumerates are allowed as they are.
    An empty string is never grounded: a tool called with nothing to go on is a guess."""
    text = _normal(source)
    allowed = _enum_values(schema or {})
    for leaf in _leaves(arguments):
        if isinstance(leaf, bool) or leaf is None:
            continue
        if isinstance(leaf, str):
            if leaf in allowed:
                continue
            if not _occurs(_normal(leaf), text):
                return False
        elif isinstance(leaf, int | float):
            number = leaf if isinstance(leaf, int) or not leaf.is_integer() else int(leaf)
            if not _occurs(str(number), text):
                return False
    return True


def _occurs(value: str, text: str) -> bool:
    """`value` is in `text` as whole words: "cat" is not in "a poem about cats"."""
    if not value:
        return False
    return re.search(rf"(?<!\w){re.escape(value)}(?!\w)", text) is not None


def spans(text: str, longest: int = 6) -> list[str]:
    """Every run of up to `longest` words of `text`, without the punctuation at its ends:
    the values an argument may take when it must be copied from the user's words."""
    words = list(_WORD.finditer(text))
    found: set[str] = set()
    for first in range(len(words)):
        for last in range(first, min(len(words), first + longest)):
            span = text[words[first].start() : words[last].end()].strip(_EDGE)
            if span:
                found.add(span)
    return sorted(found)


def extend_name(value: str, text: str) -> str:
    """`value` carried on over the capitalised words that follow it in `text`: a span chosen
    a token at a time can stop inside a name ("Buenos" of "Buenos Aires")."""
    at = text.find(value)
    if at < 0 or not value[:1].isupper():
        return value
    end = at + len(value)
    while (more := _NAME_GOES_ON.match(text, end)) is not None:
        end = more.end()
    return text[at:end].strip(_EDGE)


def clauses(text: str) -> list[str]:
    """The user's message cut where it may ask for separate things ("…in Paris, and what
    time is it in Tokyo?"), so each part can get its own tool call."""
    parts = [part.strip() for part in _CLAUSE.split(text)]
    return [part for part in parts if part]


def result_text(output: str) -> str:
    """The readable part of a tool's output: an Azure Functions queue answer carries it as
    `{"Value": …}` beside its CorrelationId; anything else is shown as it is."""
    try:
        value = json.loads(output)
    except ValueError:
        return output.strip()
    if isinstance(value, dict):
        for key in ("Value", "value", "result", "output"):
            if isinstance(value.get(key), str):
                return str(value[key]).strip()
    return output.strip()


def answer_carries(answer: str, result: str) -> bool:
    """Whether `answer` states `result`: every number in the result appears in the answer,
    and so does the result itself when it is one short sentence (so "Weather is 74 degrees
    and sunny" must be quoted, not paraphrased into something else)."""
    said = _normal(answer)
    fact = _normal(result).rstrip(".!")
    if not fact:
        return True
    if len(fact) <= 120 and "\n" not in result:
        return fact in said
    return all(number in said for number in _NUMBER.findall(fact))
