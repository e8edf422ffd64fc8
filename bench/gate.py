"""How well a model's scores can tell *whether* to call a tool and *which*, apart from the
rest of the procedure (arguments, grounding, clauses), on a tool-set evaluation.

For every prompt, the decision prompt of `ToolCaller` is scored once (each tool name and
`none` after `{"tool": "`), and three call-or-not signals are derived from it:

- `lead`: the best tool's log-probability minus `none`'s;
- `lead-calibrated`: the same after subtracting each name's score for a content-free
  message (what the embedded procedure does);
- `lead-banked`: `lead` minus its mean over a fixed bank of everyday messages that need no
  tool, scored with the same tool set (a per-tool-set offset, computable when an agent is
  created, from nothing but the tools);
- `lead-instructed`: `lead` when the instructions also say when not to call (`RULE`).

It prints, per signal, the area under the ROC curve (1.0: some threshold separates
call from no-call perfectly; 0.5: chance), and the share of right call-or-not decisions at
a threshold: the one given (`--threshold lead=3.0`), else the best one on these very
prompts, which is only honest on the development set. Which tool wins among those offered
is reported for the prompts that need one. Usage:

    python -m bench.gate --gguf PATH --prompts dev        # choose thresholds here
    python -m bench.gate --gguf PATH --prompts heldout --threshold lead=3.04
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.heldout import DEVSET, HELDOUT, INSTRUCTIONS, Separated, best_cut, load, right_at
from ferry.models.backends.local.chatml import render
from ferry.models.backends.local.toolcalling import CONTENT_FREE, NONE, _decision_system
from ferry.models.backends.local.weights import find_weights

BANK = (
    "Hello!",
    "Thanks, that's all.",
    "What is the capital of France?",
    "Tell me a joke.",
    "Who wrote Pride and Prejudice?",
    "How do I boil an egg?",
    "Explain what a black hole is.",
    "Write a short poem about the sea.",
    "What can you do?",
    "How are you today?",
    "Why is the sky blue?",
    "Give me some tips for a job interview.",
)
"""Everyday messages needing no tool, written before any tool set was looked at."""
RULE = (
    "Call a tool only when the user asks for what that tool does. Reply none for questions "
    "of general knowledge, advice, explanations, writing and chat, even about a tool's "
    "subject, and for requests no tool does."
)
"""What `lead-instructed` adds to the decision prompt's instructions."""
SIGNALS = ("lead", "lead-calibrated", "lead-banked", "lead-instructed")


@dataclass(frozen=True)
class Row:
    toolset: str
    prompt: str
    wanted: str | None
    picked: str
    """The offered tool with the highest raw score."""
    lead: float
    calibrated: float
    banked: float
    instructed: float
    """`lead` with `RULE` added to the instructions."""

    def signal(self, name: str) -> float:
        values = {
            "lead": self.lead,
            "lead-calibrated": self.calibrated,
            "lead-banked": self.banked,
        }
        return values.get(name, self.instructed)


def measure(runner: object, path: Path) -> list[Row]:
    score: Callable[[str, list[str]], list[float]] = runner.score  # type: ignore[attr-defined]
    rows = []
    for toolset in load(path):
        names = [tool.name for tool in toolset.tools] + [NONE]
        endings = [f'{name}"' for name in names]
        system = _decision_system(INSTRUCTIONS, toolset.tools)

        def scored(text: str, system: str = system, endings: list[str] = endings) -> list[float]:
            return score(render([("system", system), ("user", text)], reply='{"tool": "'), endings)

        def lead(values: list[float]) -> float:
            return max(values[:-1]) - values[-1]

        baseline = scored(CONTENT_FREE)
        offset = statistics.mean(lead(scored(text)) for text in BANK)
        ruled = _decision_system(f"{INSTRUCTIONS}\n{RULE}", toolset.tools)
        instructed = [lead(scored(case.prompt, ruled)) for case in toolset.cases]
        for case, told in zip(toolset.cases, instructed, strict=True):
            values = scored(case.prompt)
            best = max(range(len(toolset.tools)), key=values.__getitem__)
            calibrated = [v - b for v, b in zip(values, baseline, strict=True)]
            rows.append(
                Row(
                    toolset.id,
                    case.prompt,
                    case.tool,
                    toolset.tools[best].name,
                    lead(values),
                    lead(calibrated),
                    lead(values) - offset,
                    told,
                )
            )
    return rows


def auc(seen: Separated) -> float:
    calls = [value for wants, value in seen if wants]
    nones = [value for wants, value in seen if not wants]
    if not calls or not nones:
        return float("nan")
    wins = sum((c > n) + 0.5 * (c == n) for c in calls for n in nones)
    return wins / (len(calls) * len(nones))


def separated(rows: list[Row], signal: str) -> Separated:
    return [(bool(r.wanted), r.signal(signal)) for r in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gguf", type=Path, help="a GGUF file (default: the embedded model)")
    parser.add_argument("--prompts", choices=["dev", "heldout"], default="dev")
    parser.add_argument(
        "--threshold",
        action="append",
        default=[],
        metavar="SIGNAL=VALUE",
        help="apply this threshold instead of finding the best (repeatable)",
    )
    parser.add_argument("--json", type=Path, help="also write every prompt's scores here")
    options = parser.parse_args()
    given = {k: float(v) for k, v in (item.split("=", 1) for item in options.threshold)}
    weights = options.gguf or find_weights()
    if weights is None or not weights.is_file():
        raise SystemExit(f"no model file: {weights}")
    from ferry.models.backends.local.llamacpp import LlamaRunner

    runner = LlamaRunner(weights)
    began = time.perf_counter()
    rows = measure(runner, DEVSET if options.prompts == "dev" else HELDOUT)
    seconds = time.perf_counter() - began
    if options.json:
        options.json.write_text(json.dumps([asdict(r) for r in rows], indent=1))
    print(f"{weights.name} on the {options.prompts} set: {len(rows)} prompts in {seconds:.0f} s")
    needing = [r for r in rows if r.wanted]
    right = sum(r.picked == r.wanted for r in needing)
    print(f"right tool among those offered, where one is needed: {right}/{len(needing)}")
    for signal in SIGNALS:
        chosen = given.get(signal)
        seen = separated(rows, signal)
        found = best_cut(seen)
        if chosen is not None:
            threshold = chosen
        elif found is not None:
            threshold = found[0]
        else:
            continue
        how = "given" if chosen is not None else "best on these prompts"
        print(
            f"{signal:16} AUC {auc(seen):.3f}; call-or-not right "
            f"{right_at(seen, threshold):.1%} at {threshold:.2f} ({how})"
        )


if __name__ == "__main__":
    main()
