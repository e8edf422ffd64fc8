"""The held-out tool-choice evaluation: `bench/heldout/toolchoice.json`, frozen.

Written by a helper that had seen neither the decision procedure nor its tuning prompts:
12 tool sets (6 pairs, 6 triples) with overlapping domains, 5 of them with names that say
nothing (`tool_a`, `helper`, `dispatch`…), 287 prompts, about half needing no tool. Nothing
here is tuned on it; it is only reported.

Per case the decision alone is measured (which tool, or none, and its arguments), not the
answer after it. Scored:

- tool choice, on the prompts that need a tool: exactly the wanted tool was called;
- no-tool decisions, on the others: nothing was called;
- arguments, on right choices: every wanted argument is there with the wanted value (text
  compared without case, spaces and punctuation, a number as a number; free text such as a
  search query also counts when one contains the other, since the set notes that its
  wording is one of several right ones).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ferry.models.backend import ChatMessage, ChatRequest, ToolSpec

__all__ = ["DEVSET", "HELDOUT", "HeldoutScore", "Separated", "best_cut", "load", "right_at", "run"]

HELDOUT = Path(__file__).parent / "heldout" / "toolchoice.json"
DEVSET = Path(__file__).parent / "dev" / "toolchoice.json"
"""Ten other tool sets in the same form, written apart from the held-out set: procedures
are tried and tuned on these, and only then reported on the held-out set."""
INSTRUCTIONS = "You are a helpful assistant."

Decide = Callable[[ChatRequest], list[tuple[str, dict[str, Any]]]]
"""One decision: the calls made for a request (empty: none)."""


@dataclass(frozen=True)
class Case:
    toolset: str
    prompt: str
    tool: str | None
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Toolset:
    id: str
    tools: list[ToolSpec]
    cases: list[Case]


@dataclass
class HeldoutScore:
    variant: str
    group: str
    """"pairs" or "triples"."""
    tool_cases: int = 0
    tool_right: int = 0
    none_cases: int = 0
    none_right: int = 0
    argument_cases: int = 0
    argument_right: int = 0
    seconds: list[float] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)
    evidence: Separated = field(default_factory=list)
    """When the variant tells (see `best_cut`)."""


def load(path: Path = HELDOUT) -> list[Toolset]:
    data = json.loads(path.read_text())
    sets = []
    for entry in data["toolsets"]:
        tools = [
            ToolSpec(
                tool["function"]["name"],
                tool["function"].get("description", ""),
                tool["function"].get("parameters") or {"type": "object"},
            )
            for tool in entry["tools"]
        ]
        cases = [
            Case(entry["id"], case["prompt"], case["tool"], case.get("arguments") or {})
            for case in entry["cases"]
        ]
        sets.append(Toolset(entry["id"], tools, cases))
    return sets


Separated = list[tuple[bool, float]]
"""Per case: whether it wants a tool, and how strong the case for calling one was."""


def right_at(seen: Separated, cut: float) -> float:
    """The share of cases a threshold of `cut` decides call-or-not right."""
    return sum((value > cut) == wants for wants, value in seen) / len(seen)


def best_cut(seen: Separated) -> tuple[float, float] | None:
    """The threshold that would have decided call-or-not best on these cases, and the share
    it got right: how a threshold is chosen on the development set for a model other than
    the embedded one (then only applied, never chosen, on the held-out set)."""
    if not seen:
        return None
    cuts = sorted({value for _, value in seen})
    candidates = [cuts[0] - 1.0] + [(a + b) / 2 for a, b in zip(cuts, cuts[1:], strict=False)]
    best = max(candidates, key=lambda cut: right_at(seen, cut))
    return best, right_at(seen, best)


def _plain(value: Any) -> str:
    return re.sub(r"[\W_]+", "", str(value)).casefold()


def same_value(got: Any, wanted: Any) -> bool:
    if isinstance(wanted, bool) or isinstance(got, bool):
        return got == wanted
    if isinstance(wanted, int | float):
        try:
            return float(got) == float(wanted)
        except (TypeError, ValueError):
            return False
    a, b = _plain(got), _plain(wanted)
    return bool(a and b) and (a == b or (len(b) > 12 and (a in b or b in a)))


def request(text: str, tools: list[ToolSpec]) -> ChatRequest:
    return ChatRequest(
        "bench",
        [ChatMessage("system", INSTRUCTIONS), ChatMessage("user", text)],
        tools=tools,
        max_completion_tokens=24,
    )


def run(
    variant: str,
    decide: Decide,
    toolsets: list[Toolset],
    evidence: Callable[[], float | None] | None = None,
) -> list[HeldoutScore]:
    """Each case decided once; scores by group (pairs, triples). `evidence`, when given,
    is asked after each decision how strong the case for calling a tool was."""
    scores = {g: HeldoutScore(variant, g) for g in ("pairs", "triples")}
    for toolset in toolsets:
        score = scores["pairs" if len(toolset.tools) == 2 else "triples"]
        for case in toolset.cases:
            began = time.perf_counter()
            calls = decide(request(case.prompt, toolset.tools))
            score.seconds.append(time.perf_counter() - began)
            strength = evidence() if evidence is not None else None
            if strength is not None:
                score.evidence.append((case.tool is not None, strength))
            names = [name for name, _ in calls]
            if case.tool is None:
                score.none_cases += 1
                score.none_right += not calls
                if calls:
                    score.misses.append(f"[{toolset.id}] {case.prompt!r} → {names} (wanted none)")
                continue
            score.tool_cases += 1
            if names != [case.tool]:
                score.misses.append(f"[{toolset.id}] {case.prompt!r} → {names or 'none'}")
                continue
            score.tool_right += 1
            score.argument_cases += 1
            got = calls[0][1]
            right = all(same_value(got.get(k), v) for k, v in case.arguments.items())
            score.argument_right += right
            if not right:
                score.misses.append(
                    f"[{toolset.id}] {case.prompt!r} → arguments {got}, wanted {case.arguments}"
                )
    return list(scores.values())
