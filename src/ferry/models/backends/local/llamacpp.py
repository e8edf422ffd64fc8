"""llama.cpp, through llama-cpp-python, as two operations the embedded backend needs: the
log-probability of each of several continuations, and generation (optionally constrained by a
JSON schema), both reusing the key/value cache of the prompt prefix they share with the call
before.

A `Llama` object is not thread-safe; whoever holds a `LlamaRunner` calls it from one thread
at a time (the backend gives each model a single-thread executor).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Generation", "LlamaRunner"]

# OpenMP's default spin-waiting collapses decoding speed when another process shares the
# cores (measured: 5.9 tokens/s instead of 47.7). It is read when the library loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


@dataclass(frozen=True)
class Generation:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str
    """"stop" or "length"."""


class LlamaRunner:
    def __init__(self, path: Path, *, context: int = 4096, threads: int | None = None) -> None:
        import llama_cpp

        self._lib = llama_cpp
        self.path = path
        self.llama = llama_cpp.Llama(
            model_path=str(path),
            n_ctx=context,
            n_batch=512,
            n_threads=threads,
            logits_all=False,
            verbose=False,
        )
        self.context = context
        self._grammars: dict[str, Any] = {}

    def tokens(self, text: str) -> list[int]:
        """`text` as tokens, with ChatML's markers read as the special tokens they are."""
        return list(self.llama.tokenize(text.encode(), add_bos=False, special=True))

    def _advance(self, tokens: Sequence[int]) -> Any:
        """Bring the cache to `tokens` (keeping the prefix it shares with what it holds) and
        return the log-probabilities of the token after them."""
        import numpy as np

        llama = self.llama
        held = llama.input_ids[: llama.n_tokens]
        common = 0
        for a, b in zip(held, tokens, strict=False):
            if a != b:
                break
            common += 1
        common = min(common, len(tokens) - 1)  # the last token is evaluated for its logits
        llama.n_tokens = common
        llama.eval(list(tokens[common:]))
        pointer = self._lib.llama_get_logits_ith(llama.ctx, -1)
        logits = np.ctypeslib.as_array(pointer, shape=(llama.n_vocab(),)).astype(np.float64)
        top = logits.max()
        return logits - (top + np.log(np.exp(logits - top).sum()))

    def score(self, prompt: str, continuations: Sequence[str]) -> list[float]:
        """The log-probability of each continuation after `prompt`, summed over its tokens."""
        base = self.tokens(prompt)
        first = self._advance(base)
        scores: list[float] = []
        for continuation in continuations:
            pieces = self.tokens(prompt + continuation)[len(base) :]
            if not pieces:
                scores.append(0.0)
                continue
            total = float(first[pieces[0]])
            for index in range(1, len(pieces)):
                following = self._advance(base + pieces[:index])
                total += float(following[pieces[index]])
            scores.append(total)
        return scores

    def grammar(self, schema: dict[str, Any] | None, *, keep: bool = True) -> Any:
        """A grammar admitting JSON that fits `schema` (any JSON value with None); a schema
        llama.cpp cannot translate falls back to any JSON object. Grammars are kept for the
        next call unless `keep` is False (a schema made for one message)."""
        key = json.dumps(schema, sort_keys=True) if schema is not None else ""
        grammar = self._grammars.get(key)
        if grammar is None:
            from llama_cpp.llama_grammar import JSON_GBNF, LlamaGrammar

            try:
                if schema is None:
                    raise ValueError("no schema")
                grammar = LlamaGrammar.from_json_schema(key, verbose=False)
            except Exception:
                grammar = LlamaGrammar.from_string(JSON_GBNF, verbose=False)
            if keep:
                self._grammars[key] = grammar
        return grammar

    def generate(
        self,
        prompt: str,
        *,
        max_tokens: int,
        stop: Sequence[str],
        sampling: tuple[float, float] = (0.0, 1.0),
        grammar: Any = None,
        on_text: Callable[[str], None] | None = None,
    ) -> Generation:
        """Sample after `prompt` (with `sampling`: temperature, top_p) until a stop string,
        the end of the model's turn or `max_tokens`; each piece of text goes to `on_text` as
        it comes."""
        tokens = self.tokens(prompt)
        room = self.context - len(tokens) - 1
        if room <= 0:
            raise ValueError(
                f"the prompt ({len(tokens)} tokens) does not fit the model's "
                f"{self.context}-token context"
            )
        pieces: list[str] = []
        finish = "stop"
        count = 0
        stream = self.llama.create_completion(
            prompt=tokens,
            max_tokens=min(max_tokens, room),
            temperature=sampling[0],
            top_p=sampling[1],
            stop=list(stop),
            grammar=grammar,
            stream=True,
        )
        chunks: Iterator[Any] = stream  # type: ignore[assignment]
        for chunk in chunks:
            choice = chunk["choices"][0]
            text = choice["text"]
            if text:
                count += 1
                pieces.append(text)
                if on_text is not None:
                    on_text(text)
            if choice.get("finish_reason"):
                finish = str(choice["finish_reason"])
        return Generation(
            text="".join(pieces),
            prompt_tokens=len(tokens),
            completion_tokens=count,
            finish_reason="length" if finish == "length" else "stop",
        )
