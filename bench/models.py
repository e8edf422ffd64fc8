"""Tool-calling accuracy of the embedded model (SmolLM2-135M-Instruct on llama.cpp).

38 prompts (`--prompts dev`: 30 others, for tuning): weather questions in varied phrasings
and places, prompts that need no tool, prompts for a second tool (GetTime) and two that
need both. Each is put to the model with the tools offered, first GetWeather alone (the
seed's agent), then both tools. Measured:

- tool choice: the set of tools called is the set wanted (none for the no-tool prompts);
- arguments: for right choices, every argument equals the wanted value (case aside);
- grounding: after a tool answers, the final answer states the tool's result, and how the
  answer came about: the model's own words, the model finishing an answer opened with the
  result, or the result alone (the fallback);
- seconds per decision and per answer.

Side by side: Ferry's procedure (calibrated and channel scores, grounded arguments, guarded
answers), the same without the channel score, the same without the answer guard (how often
the model's own answer states the result), the same model with raw scores and no checks,
and Ferry's scripted rules (a regex, no model).

    python -m bench.models [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.table import Table

from bench.heldout import DEVSET, HELDOUT, HeldoutScore
from ferry.cli.output import make_console
from ferry.models.backend import ChatMessage, ChatRequest, ToolCall, ToolSpec
from ferry.models.backends.local.grounding import answer_carries
from ferry.models.backends.local.toolcalling import CALL_THRESHOLD, ToolCaller
from ferry.models.backends.local.weights import EMBEDDED, find_weights
from ferry.models.backends.scripted import ScriptedBackend

console = make_console()

WEATHER = ToolSpec(
    "GetWeather",
    "Get the weather in location",
    {
        "type": "object",
        "properties": {"location": {"type": "string", "description": "The location to look up."}},
        "required": ["location"],
    },
)
TIME = ToolSpec(
    "GetTime",
    "Get the current local time in a city.",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
INSTRUCTIONS = (
    "You are a helpful support agent. Answer the user's questions to the best of your ability."
)

Wanted = list[tuple[str, dict[str, str]]]


def weather(place: str) -> Wanted:
    return [("GetWeather", {"location": place})]


def clock(city: str) -> Wanted:
    return [("GetTime", {"city": city})]


CASES: list[tuple[str, str, Wanted]] = [
    ("weather", "What is the weather in Seattle, WA?", weather("Seattle, WA")),
    ("weather", "How's the weather in Boston today?", weather("Boston")),
    ("weather", "Is it raining in Paris right now?", weather("Paris")),
    ("weather", "What's the forecast for Berlin?", weather("Berlin")),
    ("weather", "Do I need an umbrella in London today?", weather("London")),
    ("weather", "Tell me the temperature in Sydney.", weather("Sydney")),
    ("weather", "Is it sunny in Madrid?", weather("Madrid")),
    ("weather", "weather for new york please", weather("new york")),
    ("weather", "Will it snow in Denver tomorrow?", weather("Denver")),
    ("weather", "How cold is it in Oslo?", weather("Oslo")),
    ("weather", "Give me the current weather for Cape Town.", weather("Cape Town")),
    ("weather", "What's it like outside in Chicago, IL?", weather("Chicago, IL")),
    ("weather", "Weather in Lisbon?", weather("Lisbon")),
    ("weather", "Should I wear a jacket in Toronto today?", weather("Toronto")),
    ("weather", "Can you check the weather in Mumbai for me?", weather("Mumbai")),
    ("weather", "How windy is it in Wellington?", weather("Wellington")),
    ("none", "Say hello", []),
    ("none", "What is 2+2?", []),
    ("none", "Thanks, that's all!", []),
    ("none", "Write a poem about cats", []),
    ("none", "Who wrote Hamlet?", []),
    ("none", "Translate 'good morning' to French.", []),
    ("none", "What is the capital of Italy?", []),
    ("none", "Tell me a joke.", []),
    ("none", "How do I boil an egg?", []),
    ("none", "What can you do?", []),
    ("none", "Summarize the plot of Cinderella.", []),
    ("none", "Recommend a good book.", []),
    ("time", "What time is it in Tokyo?", clock("Tokyo")),
    ("time", "What's the local time in Chicago?", clock("Chicago")),
    ("time", "Tell me the current time in Rome.", clock("Rome")),
    ("time", "Is it late in Moscow right now?", clock("Moscow")),
    ("time", "What time is it now in Dubai?", clock("Dubai")),
    ("time", "Do you know the time in Singapore?", clock("Singapore")),
    ("time", "Current time in Buenos Aires, please.", clock("Buenos Aires")),
    ("time", "What hour is it in Seoul?", clock("Seoul")),
    (
        "both",
        "What's the weather in Paris, and what time is it in Tokyo?",
        weather("Paris") + clock("Tokyo"),
    ),
    ("both", "Weather in Oslo? Then the time in Lima.", weather("Oslo") + clock("Lima")),
]


DEV_CASES: list[tuple[str, str, Wanted]] = [
    ("weather", "What's the temperature like in Athens?", weather("Athens")),
    ("weather", "Any rain expected in Dublin?", weather("Dublin")),
    ("weather", "Is it hot in Cairo today?", weather("Cairo")),
    ("weather", "Weather report for Vancouver, BC", weather("Vancouver, BC")),
    ("weather", "How humid is it in Bangkok?", weather("Bangkok")),
    ("weather", "Is it foggy in San Francisco this morning?", weather("San Francisco")),
    ("weather", "What are the conditions in Reykjavik?", weather("Reykjavik")),
    ("weather", "Tell me the weather for Miami.", weather("Miami")),
    ("weather", "Will I need sunscreen in Phoenix?", weather("Phoenix")),
    ("weather", "Is it stormy in Manila?", weather("Manila")),
    ("none", "Good morning!", []),
    ("none", "What's your name?", []),
    ("none", "Explain photosynthesis.", []),
    ("none", "List three prime numbers.", []),
    ("none", "Who painted the Mona Lisa?", []),
    ("none", "Give me a recipe for pancakes.", []),
    ("none", "What is the square root of 81?", []),
    ("none", "Spell 'necessary'.", []),
    ("none", "Tell me about the history of Rome.", []),
    ("none", "Describe the city of Paris.", []),
    ("none", "Bye!", []),
    ("none", "Can you help me write an email?", []),
    ("time", "What's the time in Los Angeles?", clock("Los Angeles")),
    ("time", "Tell me the time in Nairobi.", clock("Nairobi")),
    ("time", "What time is it over in Berlin?", clock("Berlin")),
    ("time", "Clock check: Sydney?", clock("Sydney")),
    ("time", "Is it morning in Honolulu now?", clock("Honolulu")),
    ("time", "Local time in Istanbul?", clock("Istanbul")),
    ("time", "What's the current hour in Mexico City?", clock("Mexico City")),
    ("time", "Is it midnight in Beijing?", clock("Beijing")),
]
"""Prompts for tuning (the call threshold was chosen on these); CASES are for reporting."""


def result_for(name: str, arguments: dict[str, Any]) -> str:
    if name == "GetWeather":
        return json.dumps(
            {"Value": f"Weather is 68 degrees and cloudy in {arguments.get('location')}"}
        )
    return f"The local time in {arguments.get('city')} is 14:05"


@dataclass
class Score:
    variant: str
    tools: str
    cases: int = 0
    choice_right: int = 0
    arguments_right: int = 0
    arguments_cases: int = 0
    answers: int = 0
    answers_grounded: int = 0
    sources: dict[str, int] = field(default_factory=dict)
    decision_seconds: list[float] = field(default_factory=list)
    answer_seconds: list[float] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)

    def ratio(self, right: int, total: int) -> str:
        return ratio(right, total)


def ratio(right: int, total: int) -> str:
    return f"{right}/{total} ({100 * right / total:.0f}%)" if total else "-"


def same(got: list[tuple[str, dict[str, Any]]], wanted: Wanted) -> tuple[bool, bool]:
    """(the right tools, the right tools with the right arguments)."""
    names = sorted(name for name, _ in got) == sorted(name for name, _ in wanted)
    if not names:
        return False, False

    def norm(calls: list[tuple[str, dict[str, Any]]]) -> list[str]:
        return sorted(
            json.dumps({k: str(v).strip().casefold() for k, v in args.items()}, sort_keys=True)
            + name
            for name, args in calls
        )

    return True, norm(got) == norm(wanted)


def request(text: str, tools: list[ToolSpec], **extra: Any) -> ChatRequest:
    return ChatRequest(
        "bench",
        [ChatMessage("system", INSTRUCTIONS), ChatMessage("user", text)],
        tools=tools,
        max_completion_tokens=extra.pop("max_completion_tokens", 24),
        **extra,
    )


def run_model(
    caller: ToolCaller, variant: str, tools: list[ToolSpec], cases: list[tuple[str, str, Wanted]]
) -> Score:
    offered = {tool.name for tool in tools}
    score = Score(variant, " + ".join(sorted(offered)))
    for _kind, text, wanted in cases:
        if any(name not in offered for name, _ in wanted):
            continue
        score.cases += 1
        began = time.perf_counter()
        outcome = caller.turn(request(text, tools))
        score.decision_seconds.append(time.perf_counter() - began)
        got = [(call.name, call.arguments) for call in outcome.calls]
        choice, arguments = same(got, wanted) if wanted else (not got, not got)
        score.choice_right += choice
        if not choice:
            score.misses.append(f"{text!r} → {got or 'no call'}")
        if not (choice and wanted):
            continue
        score.arguments_cases += 1
        score.arguments_right += arguments
        if not arguments:
            score.misses.append(f"{text!r} → arguments {got}")
        calls = tuple(
            ToolCall(f"call_{i}", name, json.dumps(args)) for i, (name, args) in enumerate(got)
        )
        results = [result_for(call.name, json.loads(call.arguments)) for call in calls]
        follow = ChatRequest(
            "bench",
            [
                ChatMessage("system", INSTRUCTIONS),
                ChatMessage("user", text),
                ChatMessage("assistant", tool_calls=calls),
                *(
                    ChatMessage("tool", result, tool_call_id=call.id)
                    for call, result in zip(calls, results, strict=True)
                ),
            ],
            tools=tools,
            max_completion_tokens=80,
        )
        began = time.perf_counter()
        answer = caller.turn(follow)
        score.answer_seconds.append(time.perf_counter() - began)
        score.answers += 1
        facts = [json.loads(r)["Value"] if r.startswith("{") else r for r in results]
        grounded = all(answer_carries(answer.text or "", fact) for fact in facts)
        score.answers_grounded += grounded
        score.sources[answer.answer_source] = score.sources.get(answer.answer_source, 0) + 1
        if not grounded:
            score.misses.append(f"{text!r} → answer {answer.text!r}")
    return score


def run_scripted(tools: list[ToolSpec], cases: list[tuple[str, str, Wanted]]) -> Score:
    """The scripted rules: a call for "weather in/for/at X", else none; their answer after a
    tool is "NAME says: RESULT"."""
    backend = ScriptedBackend()
    offered = {tool.name for tool in tools}
    score = Score("scripted rules (no model)", " + ".join(sorted(offered)))
    for _kind, text, wanted in cases:
        if any(name not in offered for name, _ in wanted):
            continue
        score.cases += 1
        result = asyncio.run(backend.complete(request(text, tools)))
        got = [(call.name, _arguments(call.arguments)) for call in result.tool_calls]
        choice, arguments = same(got, wanted) if wanted else (not got, not got)
        score.choice_right += choice
        if choice and wanted:
            score.arguments_cases += 1
            score.arguments_right += arguments
            score.answers += 1
            score.answers_grounded += 1  # it quotes every result by construction
            score.sources["result"] = score.sources.get("result", 0) + 1
    return score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the scores as JSON")
    parser.add_argument(
        "--by-description",
        action="store_true",
        help="held-out set: also the experiment that picks tools by their descriptions",
    )
    parser.add_argument(
        "--prompts",
        choices=["report", "dev", "heldout", "toolsets-dev"],
        default="report",
        help="the 38 reported prompts, the 30 the call threshold was tuned on, the frozen "
        "held-out set (bench/heldout/toolchoice.json: 12 tool sets, 287 prompts), or the "
        "development tool sets procedures are tried on first (bench/dev/toolchoice.json)",
    )
    parser.add_argument(
        "--gguf",
        type=Path,
        metavar="PATH",
        help="a GGUF file (a ChatML model) to measure instead of the embedded one, as "
        "`[models.NAME] backend = 'local', path = PATH` in ferry.toml would run it",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=CALL_THRESHOLD,
        help="tool sets: the call threshold to decide with (default: the embedded model's, "
        f"{CALL_THRESHOLD:g}); choose one for another model with --prompts toolsets-dev, "
        "which prints the best, then report with it on --prompts heldout",
    )
    options = parser.parse_args()
    cases = CASES if options.prompts == "report" else DEV_CASES
    weights = options.gguf or find_weights()
    if weights is None:
        raise SystemExit(f"the embedded model is not installed: {EMBEDDED.install}")
    if not weights.is_file():
        raise SystemExit(f"no such file: {weights}")
    from ferry.models.backends.local.llamacpp import LlamaRunner

    began = time.perf_counter()
    runner = LlamaRunner(weights)
    loaded = time.perf_counter() - began
    if options.prompts in ("heldout", "toolsets-dev"):
        report_heldout(
            runner,
            loaded,
            as_json=options.json,
            experiment=options.by_description,
            path=HELDOUT if options.prompts == "heldout" else DEVSET,
            threshold=options.threshold,
        )
        return
    variants = [
        ("Ferry (calibrated, grounded, guarded)", ToolCaller(runner)),
        ("without the channel score", ToolCaller(runner, channel=False)),
        ("without the answer guard", ToolCaller(runner, guard_answers=False)),
        (
            "same model, raw scores, no checks",
            ToolCaller(runner, calibrate=False, channel=False, ground=False, guard_answers=False),
        ),
    ]
    scores: list[Score] = []
    for tools in ([WEATHER], [WEATHER, TIME]):
        for name, caller in variants:
            with console.status(f"{name}, tools {[t.name for t in tools]}"):
                scores.append(run_model(caller, name, tools, cases))
        scores.append(run_scripted(tools, cases))
    if options.json:
        print(json.dumps([asdict(s) for s in scores], indent=2))
        return
    machine = f"{platform.machine()}, {os.cpu_count()} cores"
    table = Table(title=f"{EMBEDDED.name}: tool-calling accuracy ({machine})")
    for column in ("tools offered", "variant", "tool choice", "arguments", "answer states result"):
        table.add_column(column)
    table.add_column("answer came from")
    table.add_column("s/decision", justify="right")
    table.add_column("s/answer", justify="right")
    for s in scores:
        table.add_row(
            s.tools,
            s.variant,
            s.ratio(s.choice_right, s.cases),
            s.ratio(s.arguments_right, s.arguments_cases),
            s.ratio(s.answers_grounded, s.answers),
            ", ".join(f"{k} {v}" for k, v in sorted(s.sources.items())),
            f"{statistics.mean(s.decision_seconds):.2f}" if s.decision_seconds else "-",
            f"{statistics.mean(s.answer_seconds):.2f}" if s.answer_seconds else "-",
        )
    console.print(f"model loaded in {loaded:.2f} s from {weights}")
    console.print(table)
    for s in scores:
        if s.misses and s.variant.startswith("Ferry"):
            console.print(f"[bold]{s.variant}, {s.tools}: misses[/bold]")
            for miss in s.misses:
                console.print(f"  {miss}")


def report_heldout(
    runner: Any,
    loaded: float,
    *,
    as_json: bool,
    experiment: bool,
    path: Path,
    threshold: float = CALL_THRESHOLD,
) -> None:
    """A tool-set evaluation (`bench.heldout`): Ferry's procedure beside the scripted rules."""
    from bench.heldout import best_cut, load, run

    toolsets = load(path)

    last: list[float | None] = [None]

    def deciding(caller: ToolCaller) -> Any:
        def decide(request: ChatRequest) -> list[tuple[str, dict[str, Any]]]:
            outcome = caller.decide(request)
            last[0] = max(outcome.evidence, default=None)
            return [(call.name, call.arguments) for call in outcome.calls]

        return decide

    backend = ScriptedBackend()

    def scripted(request: ChatRequest) -> list[tuple[str, dict[str, Any]]]:
        result = asyncio.run(backend.complete(request))
        return [(call.name, _arguments(call.arguments)) for call in result.tool_calls]

    scores: list[HeldoutScore] = []
    ferry = "Ferry's procedure" + (
        "" if threshold == CALL_THRESHOLD else f", threshold {threshold:g}"
    )
    variants = [(ferry, deciding(ToolCaller(runner, call_threshold=threshold)))]
    if experiment:
        chosen = deciding(ToolCaller(runner, by_description=True, call_threshold=threshold))
        variants.append(("picked by description (experiment)", chosen))
    variants.insert(0, ("scripted rules (no model)", scripted))
    for name, decide in variants:
        with console.status(f"{path.parent.name} set: {name}"):
            gauge = (lambda: last[0]) if decide is not scripted else None
            scores += run(name, decide, toolsets, evidence=gauge)
    best = {
        name: best_cut([pair for s in scores if s.variant == name for pair in s.evidence])
        for name, _ in variants
    }
    if as_json:
        print(json.dumps({"scores": [asdict(s) for s in scores], "best_threshold": best}))
        return
    show_toolsets(runner, loaded, path, scores, best)


def _arguments(text: str) -> dict[str, Any]:
    """A call's arguments; the scripted rules pass on what follows `call NAME` as written
    ("call 555-0199 on speaker"), which is then no JSON and counts as no arguments."""
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def show_toolsets(
    runner: Any,
    loaded: float,
    path: Path,
    scores: list[HeldoutScore],
    best: dict[str, tuple[float, float] | None],
) -> None:
    machine = f"{platform.machine()}, {os.cpu_count()} cores"
    model = EMBEDDED.name if runner.path == find_weights() else Path(runner.path).name
    table = Table(title=f"{model}: {path.parent.name} tool choice ({machine})")
    for column in ("variant", "tools offered", "right tool", "right no-tool", "arguments"):
        table.add_column(column)
    table.add_column("s/decision", justify="right")
    for s in scores:
        table.add_row(
            s.variant,
            s.group,
            ratio(s.tool_right, s.tool_cases),
            ratio(s.none_right, s.none_cases),
            ratio(s.argument_right, s.argument_cases),
            f"{statistics.mean(s.seconds):.2f}" if s.seconds else "-",
        )
    console.print(f"model loaded in {loaded:.2f} s; targets: right tool ≥ 95% (pairs), ≥ 90%")
    console.print("(triples); right no-tool ≥ 95%; arguments ≥ 95%")
    console.print(table)
    for name, found in best.items():
        if found is not None:
            console.print(
                f"{name}: on these prompts, a call threshold of {found[0]:.2f} would have "
                f"decided call-or-not right {found[1]:.0%} of the time"
            )
    for s in scores:
        if s.misses and s.variant.startswith("Ferry"):
            console.print(f"[bold]{s.variant}, {s.group}: misses[/bold]")
            for miss in s.misses:
                console.print(f"  {miss}")


if __name__ == "__main__":
    main()
