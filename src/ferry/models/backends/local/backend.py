"""The embedded model: SmolLM2-135M-Instruct on llama.cpp, in this process, with no network
and no key. It is what serves agents when no model server is configured.

The model loads once, on a thread of its own, as soon as the process asks for it (`ferry
start` does at startup), and every turn then runs on that same thread: a llama.cpp model is
not thread-safe, and one turn at a time keeps its prompt cache warm. Text is streamed to the
run as it is decoded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from ferry.models.backend import (
    ChatRequest,
    ChatResult,
    DeltaCallback,
    ModelBackend,
    ToolCall,
    Usage,
)
from ferry.models.backends.local.toolcalling import CALL_THRESHOLD, Outcome, ToolCaller
from ferry.models.backends.local.weights import EMBEDDED, find_weights
from ferry.models.errors import ModelError

__all__ = ["LocalBackend"]

log = logging.getLogger(__name__)


class LocalBackend(ModelBackend):
    name = "local"

    def __init__(
        self,
        path: Path | None = None,
        *,
        context: int = 4096,
        call_threshold: float | None = None,
    ) -> None:
        self.path = path if path is not None else find_weights()
        self.embedded = path is None
        self.context = context
        self.call_threshold = CALL_THRESHOLD if call_threshold is None else call_threshold
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ferry-model")
        self._loading: Future[ToolCaller] | None = None
        self._warned: set[tuple[str, ...]] = set()

    def describe(self) -> str:
        if self.path is None:
            return f"embedded model (not installed: {EMBEDDED.install})"
        if not self.embedded:
            return f"local model {self.path} (call threshold {self.call_threshold:g})"
        return f"embedded {EMBEDDED.name} at {self.path}"

    def start_loading(self) -> Future[ToolCaller]:
        """Begin loading (once); the future fails with `ModelError` if it cannot."""
        if self._loading is None:
            self._loading = self._thread.submit(self._load)
        return self._loading

    def _load(self) -> ToolCaller:
        if self.path is None:
            raise ModelError(
                "no model server is configured and the embedded model is not installed: "
                f"run {EMBEDDED.install}, or set OPENAI_BASE_URL / AZURE_OPENAI_ENDPOINT"
            )
        try:
            from ferry.models.backends.local.llamacpp import LlamaRunner

            return ToolCaller(
                LlamaRunner(self.path, context=self.context), call_threshold=self.call_threshold
            )
        except ImportError as exc:
            raise ModelError(
                f"the embedded model needs llama-cpp-python ({EMBEDDED.install}): {exc}"
            ) from exc
        except Exception as exc:
            raise ModelError(f"cannot load the embedded model from {self.path}: {exc}") from exc

    async def complete(
        self, request: ChatRequest, on_delta: DeltaCallback | None = None
    ) -> ChatResult:
        caller = await asyncio.wrap_future(self.start_loading())
        self._warn_of_choice(request)
        loop = asyncio.get_running_loop()
        pieces: asyncio.Queue[str | None] = asyncio.Queue()

        def hand_over(piece: str | None) -> None:
            # RuntimeError: the loop has closed, so nobody is listening any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(pieces.put_nowait, piece)

        def work() -> Outcome:
            try:
                return caller.turn(request, hand_over if on_delta is not None else None)
            finally:
                hand_over(None)

        job = asyncio.wrap_future(self._thread.submit(work))
        if on_delta is not None:
            while (piece := await pieces.get()) is not None:
                await on_delta(piece)
        try:
            outcome = await job
        except ModelError:
            raise
        except Exception as exc:
            raise ModelError(f"the embedded model failed: {exc!r}") from exc
        usage = Usage(outcome.prompt_tokens, outcome.completion_tokens)
        if outcome.calls:
            calls = tuple(
                ToolCall("call_" + secrets.token_hex(12), call.name, json.dumps(call.arguments))
                for call in outcome.calls
            )
            return ChatResult(text=None, tool_calls=calls, usage=usage, finish_reason="tool_calls")
        return ChatResult(text=outcome.text or "", usage=usage, finish_reason=outcome.finish_reason)

    def _warn_of_choice(self, request: ChatRequest) -> None:
        """Say so, once per tool set, when the embedded model is to choose among several
        tools: on tool sets it was not tuned for it chooses about as well as chance."""
        names = tuple(sorted(tool.name for tool in request.tools))
        if not self.embedded or len(names) < 2 or names in self._warned:
            return
        self._warned.add(names)
        log.warning(
            "the embedded %s is choosing among %d tools (%s): on tool sets it was not tuned "
            "for it picks the right one about as often as chance (docs/models.md); point this "
            "agent's model at a model server for real use",
            EMBEDDED.name,
            len(names),
            ", ".join(names),
        )

    async def close(self) -> None:
        self._thread.shutdown(wait=False, cancel_futures=True)
