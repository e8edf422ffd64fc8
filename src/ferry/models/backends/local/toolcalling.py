"""How a small local model is made to use tools well enough to be useful.

A 135M-parameter model cannot decide by itself when to call a tool (asked to write a tool
call, it never does, or calls the weather tool for "Say hello"). So the decision is taken in
steps the model is good at, each one checked:

1. **Which tool, or none.** The model is shown the tools and the user's message, and its turn
   is opened with `{"tool": "`. Each tool name and `none` is scored by its log-probability
   there, minus its score after a content-free message ("N/A"), which removes the model's
   bias toward whichever name it likes best; the best tool is the candidate. Whether to call
   it at all also weighs how much likelier the user's words are when the model has been told
   the user wants what a tool describes than when it has not (a "channel" score): tools are
   called when the candidate's lead over `none` plus the best channel score passes
   `CALL_THRESHOLD`.
2. **Arguments.** Decoded under a grammar made from the tool's JSON schema, so they always
   parse and fit; each free-text string is further held to the runs of words of the user's
   message (the model picks "Dubai" out of the message instead of inventing "Dhuhr").
3. **Grounding.** A call whose string or number arguments do not occur, as whole words, in
   the user's text is dropped: invented arguments are the typical mistake. So is a call
   whose copied string the model itself finds an unlikely value for its parameter (mean
   log-probability per token below `PLAUSIBLE`): "Say hello" is no location.
4. **Several calls.** A message in several clauses ("… in Paris, and what time is it in
   Tokyo?") is decided clause by clause, so each can get its own call.
5. **The answer after a tool ran.** The model answers; if its answer does not state the
   tool's result, it is asked again with the answer opened by the result, and failing that
   the result itself is the answer. `Outcome.answer_source` says which happened.

Without tools (or after `none`), the model simply chats. All of it runs on one thread.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ferry.models.backend import ChatMessage, ChatRequest, ToolSpec
from ferry.models.backends.local.chatml import END, Turn, render
from ferry.models.backends.local.grounding import (
    answer_carries,
    clauses,
    extend_name,
    grounded,
    result_text,
    spans,
)
from ferry.models.backends.local.llamacpp import LlamaRunner

__all__ = ["DecidedCall", "Outcome", "ToolCaller"]

DEFAULT_SYSTEM = "You are a helpful assistant."
CONTENT_FREE = "N/A"
NONE = "none"
ARGUMENT_TOKENS = 120
SPAN_WORDS = 80
"""Messages up to this many words have their string arguments held to their spans; longer
ones get free decoding (the grammar would grow too large), then the grounding check."""
DEFAULT_ANSWER_TOKENS = 400
CALL_THRESHOLD = 3.0
"""Chosen on the development prompts of `bench/models.py` (`--prompts dev`), not on the
prompts it reports; see docs/models.md."""
CHANNEL_BASELINE = "The user asks for something."
PLAUSIBLE = -3.0
"""Chosen, like CALL_THRESHOLD, on the development prompts."""

AnswerSource = Literal["model", "model-prompted", "result", "chat"]


@dataclass(frozen=True)
class DecidedCall:
    name: str
    arguments: dict[str, Any]


@dataclass
class Outcome:
    """What one turn came to: calls to make, or an answer."""

    calls: list[DecidedCall] = field(default_factory=list)
    text: str | None = None
    answer_source: AnswerSource = "chat"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = "stop"
    dropped: list[DecidedCall] = field(default_factory=list)
    """Calls the model chose but grounding removed (kept for the benchmark)."""
    evidence: list[float] = field(default_factory=list)
    """Per clause decided, how far the case for calling a tool went (what is compared with
    the call threshold), so that a benchmark can choose a threshold for another model."""


class ToolCaller:
    def __init__(
        self,
        runner: LlamaRunner,
        *,
        calibrate: bool = True,
        channel: bool = True,
        ground: bool = True,
        guard_answers: bool = True,
        by_description: bool = False,
        call_threshold: float = CALL_THRESHOLD,
    ) -> None:
        """The switches turn steps off, so the benchmark can show what each is worth;
        `by_description` (an experiment) picks the tool by its channel score too, not only
        by its name's. `call_threshold` is the embedded model's unless a benchmark has
        chosen another for another model."""
        self.by_description = by_description
        self.call_threshold = call_threshold
        self.runner = runner
        self.calibrate = calibrate
        self.channel = channel
        self.ground = ground
        self.guard_answers = guard_answers
        self._baselines: dict[str, list[float]] = {}

    # -- the turn ------------------------------------------------------------------------

    def turn(self, request: ChatRequest, on_text: Callable[[str], None] | None = None) -> Outcome:
        messages = list(request.messages)
        last_user = max((i for i, m in enumerate(messages) if m.role == "user"), default=None)
        after = messages[(last_user + 1) if last_user is not None else 0 :]
        results = [m for m in after if m.role == "tool"]
        offered = list(request.tools) if request.tool_choice != "none" else []
        if results:
            return self._answer(request, messages, results, on_text)
        if offered and last_user is not None:
            outcome = self._decide(request, offered, messages[last_user].content or "")
            if outcome.calls:
                return outcome
            return self._chat(request, messages, on_text, spent=outcome)
        return self._chat(request, messages, on_text)

    # -- step 1 to 4: the decision --------------------------------------------------------

    def decide(self, request: ChatRequest) -> Outcome:
        """The decision alone (steps 1 to 4) on the last user message, with no answer
        written: what the benchmark measures."""
        users = [m for m in request.messages if m.role == "user"]
        if not request.tools or not users:
            return Outcome()
        return self._decide(request, list(request.tools), users[-1].content or "")

    def _decide(self, request: ChatRequest, tools: list[ToolSpec], text: str) -> Outcome:
        system = _instructions(request.messages)
        choice = request.tool_choice
        forced: ToolSpec | None = None
        if isinstance(choice, dict):
            wanted = (choice.get("function") or {}).get("name")
            forced = next((t for t in tools if t.name == wanted), None)
        required = choice == "required" or forced is not None
        parts = [text] if required else clauses(text)
        outcome = Outcome()
        for part in parts or [text]:
            tool = forced or self._choose(
                system, tools, part, allow_none=not required, evidence=outcome.evidence
            )
            if tool is None:
                continue
            arguments = self._arguments(system, tool, part)
            call = DecidedCall(tool.name, arguments if arguments is not None else {})
            if required or not self.ground or self._fits(system, tool, part, arguments):
                if call not in outcome.calls:
                    outcome.calls.append(call)
            else:
                outcome.dropped.append(call)
            if outcome.calls and (required or not request.parallel_tool_calls):
                break
        return outcome

    def _choose(
        self,
        system: str,
        tools: Sequence[ToolSpec],
        text: str,
        *,
        allow_none: bool,
        evidence: list[float],
    ) -> ToolSpec | None:
        prompt_system = _decision_system(system, tools)
        names = [tool.name for tool in tools] + [NONE]
        continuations = [f'{name}"' for name in names]
        baseline = self._baselines.get(prompt_system)
        if not self.calibrate:
            baseline = [0.0] * len(continuations)
        elif baseline is None:
            baseline = self.runner.score(
                render([("system", prompt_system), ("user", CONTENT_FREE)], reply='{"tool": "'),
                continuations,
            )
            self._baselines[prompt_system] = baseline
        scores = self.runner.score(
            render([("system", prompt_system), ("user", text)], reply='{"tool": "'),
            continuations,
        )
        calibrated = [s - b for s, b in zip(scores, baseline, strict=True)]
        lead = calibrated[: len(tools)]
        best = max(range(len(tools)), key=lead.__getitem__)
        if not allow_none:
            return tools[best]
        if not self.channel:
            evidence.append(lead[best] - calibrated[-1])
            return tools[best] if lead[best] > calibrated[-1] else None
        channel = self._channel(tools, text)
        if self.by_description:
            best = max(range(len(tools)), key=lambda i: channel[i] + lead[i])
            evidence.append(channel[best] + lead[best] - calibrated[-1])
        else:
            evidence.append(max(channel) + lead[best] - calibrated[-1])
        return tools[best] if evidence[-1] > self.call_threshold else None

    def _channel(self, tools: Sequence[ToolSpec], text: str) -> list[float]:
        """Per tool: log p(text | the user wants what the tool describes) − log p(text)."""
        ending = [text.strip() + END]
        prior = self.runner.score(render([("system", CHANNEL_BASELINE)], role="user"), ending)[0]
        return [
            self.runner.score(
                render(
                    [
                        (
                            "system",
                            f"The user asks for this: {_described(tool, self.by_description)}",
                        )
                    ],
                    role="user",
                ),
                ending,
            )[0]
            - prior
            for tool in tools
        ]

    def _arguments(self, system: str, tool: ToolSpec, text: str) -> dict[str, Any] | None:
        """The call's arguments, or None when the model could not produce an object."""
        schema = tool.parameters if isinstance(tool.parameters, dict) else {"type": "object"}
        if not schema.get("properties"):
            return {}
        prompt = _argument_prompt(system, tool, text)
        held = _held_to_spans(schema, text) if self.ground else None
        generation = self.runner.generate(
            prompt,
            max_tokens=ARGUMENT_TOKENS,
            stop=[END],
            grammar=self.runner.grammar({"type": "object", **(held or schema)}, keep=not held),
        )
        try:
            value = json.loads(generation.text)
        except ValueError:
            return None
        if not isinstance(value, dict):
            return None
        if held:
            value = {k: extend_name(v, text) if isinstance(v, str) else v for k, v in value.items()}
        return value

    def _fits(
        self, system: str, tool: ToolSpec, text: str, arguments: dict[str, Any] | None
    ) -> bool:
        """Step 3: the arguments are the user's words, and plausible for their parameters."""
        if arguments is None or not grounded(arguments, text, tool.parameters):
            return False
        for name, value in arguments.items():
            if not isinstance(value, str) or not value:
                continue
            opening = _argument_prompt(system, tool, text, reply=json.dumps({name: ""})[:-2])
            pieces = len(self.runner.tokens(opening + json.dumps(value)[1:])) - len(
                self.runner.tokens(opening)
            )
            [total] = self.runner.score(opening, [json.dumps(value)[1:]])
            if total / max(pieces, 1) < PLAUSIBLE:
                return False
        return True

    # -- step 5 and plain chat --------------------------------------------------------------

    def _answer(
        self,
        request: ChatRequest,
        messages: list[ChatMessage],
        results: list[ChatMessage],
        on_text: Callable[[str], None] | None,
    ) -> Outcome:
        """An answer that states every result; it is checked before any of it is shown."""
        facts = [result_text(m.content or "") for m in results]
        limit = request.max_completion_tokens or DEFAULT_ANSWER_TOKENS
        system = _instructions(messages) + (
            " Tool results are facts: repeat them word for word in your answer."
        )
        turns = self._fitted(_turns(messages, system), limit)
        outcome = Outcome()
        first = self.runner.generate(
            render(turns), max_tokens=limit, stop=[END], sampling=_sampling(request)
        )
        _count(outcome, first.prompt_tokens, first.completion_tokens)
        answer = first.text.strip()
        if first.finish_reason == "length":
            outcome.finish_reason = "length"
        elif _states(answer, facts) or not self.guard_answers:
            outcome.answer_source = "model"
        else:
            opening = " ".join(facts)
            second = self.runner.generate(
                render(turns, reply=opening), max_tokens=min(limit, 40), stop=[END, "\n", "{"]
            )
            _count(outcome, second.prompt_tokens, second.completion_tokens)
            tail = second.text.rstrip()
            answer = opening + tail if _plain(tail) else opening
            outcome.answer_source = "model-prompted" if _plain(tail) and tail else "result"
            if not answer.endswith((".", "!", "?")):
                answer += "."
        outcome.text = answer
        if on_text is not None and answer:
            on_text(answer)
        return outcome

    def _chat(
        self,
        request: ChatRequest,
        messages: list[ChatMessage],
        on_text: Callable[[str], None] | None,
        spent: Outcome | None = None,
    ) -> Outcome:
        outcome = spent or Outcome()
        grammar = _response_grammar(self.runner, request.response_format)
        limit = request.max_completion_tokens or DEFAULT_ANSWER_TOKENS
        generation = self.runner.generate(
            render(self._fitted(_turns(messages, _instructions(messages)), limit)),
            max_tokens=limit,
            stop=[END],
            grammar=grammar,
            on_text=on_text,
            sampling=_sampling(request),
        )
        _count(outcome, generation.prompt_tokens, generation.completion_tokens)
        outcome.calls = []
        outcome.text = generation.text.strip()
        outcome.answer_source = "chat"
        outcome.finish_reason = generation.finish_reason
        return outcome

    def _fitted(self, turns: list[Turn], reserve: int) -> list[Turn]:
        """`turns` without their oldest exchanges, as many as must go for the prompt and
        `reserve` answer tokens to fit the context (the system turn and the last turn stay)."""
        room = self.runner.context - min(reserve, self.runner.context // 2)
        while len(turns) > 2 and len(self.runner.tokens(render(turns))) > room:
            turns = [turns[0], *turns[2:]]
        return turns


# -- prompt pieces ------------------------------------------------------------------------------


def _instructions(messages: Sequence[ChatMessage]) -> str:
    systems = [m.content.strip() for m in messages if m.role == "system" and m.content]
    return "\n".join(systems) or DEFAULT_SYSTEM


def _decision_system(system: str, tools: Sequence[ToolSpec]) -> str:
    lines = "\n".join(_tool_line(tool) for tool in tools)
    return (
        f"{system}\n\nYou can use these tools:\n{lines}\n\n"
        f'Reply with JSON naming the tool to call, or "{NONE}" when no tool is needed.'
    )


def _tool_line(tool: ToolSpec) -> str:
    properties = tool.parameters.get("properties") if isinstance(tool.parameters, dict) else None
    arguments = ", ".join(
        f"{name} ({spec.get('type', 'any')})" if isinstance(spec, dict) else name
        for name, spec in (properties or {}).items()
    )
    description = tool.description.strip() or "(no description)"
    return f"- {tool.name}: {description}" + (f" Arguments: {arguments}" if arguments else "")


def _turns(messages: Sequence[ChatMessage], system: str) -> list[Turn]:
    """The conversation in ChatML turns: tool calls become the assistant's JSON, results
    become `tool` turns (the way SmolLM2 answers from them best)."""
    turns: list[Turn] = [("system", system)]
    for message in messages:
        if message.role == "system":
            continue
        if message.role == "assistant" and message.tool_calls:
            content = "\n".join(
                json.dumps({"tool": call.name, "arguments": _parsed(call.arguments)})
                for call in message.tool_calls
            )
            turns.append(("assistant", content))
        elif message.role == "tool":
            turns.append(("tool", result_text(message.content or "")))
        else:
            turns.append((message.role, message.content or ""))
    return turns


def _parsed(arguments: str) -> Any:
    try:
        return json.loads(arguments)
    except ValueError:
        return arguments


def _argument_prompt(system: str, tool: ToolSpec, text: str, reply: str = "") -> str:
    return render(
        [
            (
                "system",
                f"{system}\n\nCall the tool {tool.name}: {tool.description}\n"
                "Reply with its arguments as JSON, taking each value from the user's words.",
            ),
            ("user", text),
        ],
        reply=reply,
    )


def _held_to_spans(schema: dict[str, Any], text: str) -> dict[str, Any] | None:
    """`schema` with each top-level free-text string property limited to the spans of
    `text`; None when there is none to limit or the message is too long."""
    properties = schema.get("properties")
    if not isinstance(properties, dict) or len(text.split()) > SPAN_WORDS:
        return None
    choices = spans(text)
    limited = {
        name: {**spec, "enum": choices}
        if isinstance(spec, dict)
        and spec.get("type") == "string"
        and not {"enum", "const", "format", "pattern"} & spec.keys()
        else spec
        for name, spec in properties.items()
    }
    if limited == properties or not choices:
        return None
    return {**schema, "properties": limited}


def _states(answer: str, facts: Sequence[str]) -> bool:
    return bool(answer) and _plain(answer) and all(answer_carries(answer, f) for f in facts)


def _plain(text: str) -> bool:
    """Not a repeated tool call: small models often answer a result by calling again."""
    return '"tool"' not in text and '"arguments"' not in text


def _sampling(request: ChatRequest) -> tuple[float, float]:
    """(temperature, top_p): greedy unless the run asks for sampling, since a small model
    is at its best greedy, and runs are then repeatable."""
    return (
        request.temperature if request.temperature is not None else 0.0,
        request.top_p if request.top_p is not None else 1.0,
    )


def _response_grammar(runner: LlamaRunner, response_format: Any) -> Any:
    if not isinstance(response_format, dict):
        return None
    kind = response_format.get("type")
    if kind == "json_object":
        return runner.grammar(None)
    if kind == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema")
        return runner.grammar(schema if isinstance(schema, dict) else None)
    return None


def _count(outcome: Outcome, prompt: int, completion: int) -> None:
    outcome.prompt_tokens += prompt
    outcome.completion_tokens += completion


def _described(tool: ToolSpec, with_parameters: bool) -> str:
    """What a tool does, as the channel score puts it to the model: its description, and
    with `with_parameters` what its parameters' own descriptions say."""
    said = tool.description or tool.name
    if not with_parameters or not isinstance(tool.parameters, dict):
        return said
    properties = tool.parameters.get("properties") or {}
    docs = [
        str(spec.get("description"))
        for spec in properties.values()
        if isinstance(spec, dict) and spec.get("description")
    ]
    return f"{said} ({'; '.join(docs)})" if docs else said
