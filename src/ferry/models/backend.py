"""The interface every model backend implements: one chat turn, with tools.

The run engine builds a `ChatRequest` from a run (instructions, thread messages, tool results,
tools offered) and gets back a `ChatResult`: either text for an assistant message, or tool calls
to carry out. Text can be streamed: a backend calls `on_delta` with each piece as it arrives.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

# Re-exported: the run engine imports ModelError from here with the interface it belongs to.
from ferry.models.errors import ModelError

__all__ = [
    "ChatMessage",
    "ChatRequest",
    "ChatResult",
    "DeltaCallback",
    "ImagePart",
    "ModelBackend",
    "ModelError",
    "ToolCall",
    "ToolSpec",
    "Usage",
]

Role = Literal["system", "user", "assistant", "tool"]
DeltaCallback = Callable[[str], Awaitable[None]]


@dataclass(frozen=True)
class ToolSpec:
    """A function the model may call (JSON-schema parameters)."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object"})


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str
    """The call's arguments as JSON text, exactly as the model produced them."""


@dataclass(frozen=True)
class ImagePart:
    """An image a user message shows the model: an http(s) URL or a `data:` URL."""

    url: str
    detail: str = "auto"


@dataclass(frozen=True)
class ChatMessage:
    role: Role
    content: str | None = None
    images: tuple[ImagePart, ...] = ()
    """For a user message: images shown with its text (only to backends that accept them)."""
    tool_calls: tuple[ToolCall, ...] = ()
    """For an assistant message that asked for tools."""
    tool_call_id: str | None = None
    """For a `tool` message: which call this is the result of."""


@dataclass(frozen=True)
class ChatRequest:
    model: str
    messages: Sequence[ChatMessage]
    tools: Sequence[ToolSpec] = ()
    tool_choice: str | dict[str, Any] | None = None
    """"auto", "none", "required", or {"type": "function", "function": {"name": …}}."""
    parallel_tool_calls: bool = True
    response_format: str | dict[str, Any] | None = None
    """"auto", "text", {"type": "json_object"} or {"type": "json_schema", …}."""
    temperature: float | None = None
    top_p: float | None = None
    max_completion_tokens: int | None = None


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class ChatResult:
    text: str | None
    tool_calls: tuple[ToolCall, ...] = ()
    usage: Usage = Usage()
    finish_reason: str = "stop"
    """"stop", "tool_calls" or "length" (token limit reached: the run ends `incomplete`)."""


class ModelBackend(ABC):
    """One way of running a model: an OpenAI-compatible server, the scripted rules, …"""

    name: str
    """Short name shown to people: "openai", "azure-openai", "scripted", …"""
    accepts_images: bool = False
    """Whether messages may carry images; the engine fails a run that would need them
    rather than drop them silently."""

    @abstractmethod
    async def complete(
        self, request: ChatRequest, on_delta: DeltaCallback | None = None
    ) -> ChatResult:
        """Run one turn. Raise `ModelError` (never anything else) when the backend fails."""

    async def close(self) -> None:
        """Release connections; the default has none."""
        return None
