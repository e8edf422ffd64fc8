"""Request bodies of the v2 API (agents and versions; responses and conversations), checked
with pydantic.

As in the classic API, unknown keys are ignored and known keys must have the right type and
range. Items and tools are checked by `ferry.agents.v2.items` and `ferry.agents.tools`, which
also turn them into the core's shapes.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator

from ferry.agents.bodies import TEXT_LIMIT, Body, Metadata
from ferry.agents.errors import NotSupported
from ferry.agents.tools import v2_tools
from ferry.agents.v2.structured import check_declared
from ferry.types import Json

__all__ = [
    "AGENT_NAME",
    "AgentCreate",
    "AgentPatch",
    "ConversationCreate",
    "ConversationUpdate",
    "Definition",
    "ItemsCreate",
    "ResponseCreate",
    "VersionCreate",
    "format_of",
    "text_of_format",
    "tool_choice_of",
]

AGENT_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
"""Letters and digits with inner hyphens, at most 63 characters."""


def _number(value: Any) -> Any:
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


def format_of(text: Any) -> Json | None:
    """`text.format` of the Responses API as the chat-completions `response_format` the core
    keeps (and model backends take)."""
    if text is None:
        return None
    if not isinstance(text, dict):
        raise ValueError("must be an object with a 'format'")
    shape = text.get("format")
    if shape is None:
        return None
    if not isinstance(shape, dict) or shape.get("type") not in (
        "text",
        "json_object",
        "json_schema",
    ):
        raise ValueError("format must have type 'text', 'json_object' or 'json_schema'")
    if shape["type"] != "json_schema":
        return {"type": shape["type"]}
    name, schema = shape.get("name"), shape.get("schema")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", name):
        raise ValueError("a json_schema format needs a 'name' of 1-64 letters, digits, '_' or '-'")
    if not isinstance(schema, dict):
        raise ValueError("a json_schema format needs a 'schema' object")
    described = {"name": name, "schema": schema}
    for key in ("strict", "description"):
        if shape.get(key) is not None:
            described[key] = shape[key]
    return {"type": "json_schema", "json_schema": described}


def text_of_format(shape: Json | None) -> Json:
    """The Responses API's `text` for a stored format (the reverse of `format_of`)."""
    if not shape or shape.get("type") != "json_schema":
        return {"format": {"type": (shape or {}).get("type", "text")}}
    return {"format": {"type": "json_schema", **shape["json_schema"]}}


def tool_choice_of(choice: Any) -> Any:
    """ "auto", "none", "required", or a function by name, as the core keeps it."""
    if choice is None or choice in ("auto", "none", "required"):
        return choice
    if isinstance(choice, dict) and choice.get("type") in ("function", "azure_function"):
        name = choice.get("name")
        if name is None and isinstance(choice.get("function"), dict):
            name = choice["function"].get("name")
        if isinstance(name, str):
            return {"type": "function", "name": name}
    if isinstance(choice, dict) and isinstance(choice.get("type"), str):
        raise NotSupported(
            f"tool_choice of type '{str(choice['type'])[:64]}' is not supported by Ferry",
            param="tool_choice",
        )
    raise ValueError("must be 'auto', 'none', 'required' or {'type': 'function', 'name'}")


class _Sampling(Body):
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    tools: list[Json] | None = None
    tool_choice: str | Json | None = None
    text: Json | None = None

    @field_validator("temperature", "top_p", mode="before")
    @classmethod
    def _numbers(cls, value: Any) -> Any:
        return _number(value)

    @field_validator("tools")
    @classmethod
    def _tools(cls, value: list[Json] | None) -> list[Json] | None:
        """Checked, and kept in the core's shape."""
        return None if value is None else v2_tools(value)

    @field_validator("tool_choice")
    @classmethod
    def _choice(cls, value: Any) -> Any:
        return tool_choice_of(value)

    @field_validator("text")
    @classmethod
    def _text(cls, value: Json | None) -> Json | None:
        format_of(value)
        return value


class Definition(_Sampling):
    """A prompt agent's definition; other kinds (workflow, hosted, …) are refused."""

    kind: str
    model: str = Field(min_length=1, max_length=256)
    instructions: str | None = Field(default=None, max_length=TEXT_LIMIT)
    structured_inputs: Json | None = None

    @field_validator("structured_inputs")
    @classmethod
    def _inputs(cls, value: Json | None) -> Json | None:
        return check_declared(value)

    @field_validator("kind")
    @classmethod
    def _kind(cls, value: str) -> str:
        if value != "prompt":
            raise NotSupported(
                f"agents of kind '{value[:64]}' are not supported by Ferry: only 'prompt' agents",
                param="definition.kind",
            )
        return value


class VersionCreate(Body):
    definition: Definition
    description: str | None = Field(default=None, max_length=512)
    metadata: Metadata = None


class AgentCreate(VersionCreate):
    """The older `POST /agents` form: a name and the first version."""

    name: str = Field(min_length=1, max_length=63)


class AgentPatch(Body):
    """`PATCH /agents/{name}`: the agent's endpoint (which versions answer on it)."""

    agent_endpoint: Json | None = None


class _Conversational(Body):
    metadata: Metadata = None


class ConversationCreate(_Conversational):
    items: list[Any] | None = Field(default=None, max_length=20)


class ConversationUpdate(_Conversational):
    pass


class ItemsCreate(Body):
    items: list[Any] = Field(min_length=1, max_length=20)


INCLUDABLE = (
    "file_search_call.results",
    "message.input_image.image_url",
    "message.output_text.logprobs",
    "reasoning.encrypted_content",
    "code_interpreter_call.outputs",
    "computer_call_output.output.image_url",
    "web_search_call.action.sources",
)
"""What `include` may ask for. Ferry fills in `file_search_call.results`; the rest it has
nothing to add for (no logprobs, reasoning or other tools' outputs), and says so by leaving
them out rather than refusing a request the service accepts."""


class ResponseCreate(_Sampling):
    model: str | None = Field(default=None, min_length=1, max_length=256)
    agent_reference: Json | None = None
    structured_inputs: Json | None = None
    """Values of the agent's structured inputs (`ferry.agents.v2.structured`)."""
    agent: Json | None = None
    """The name `agent_reference` had before azure-ai-projects 2.0.0b4."""
    input: str | list[Any] | None = None
    instructions: str | None = Field(default=None, max_length=TEXT_LIMIT)
    previous_response_id: str | None = Field(default=None, min_length=1, max_length=64)
    conversation: str | Json | None = None
    parallel_tool_calls: bool | None = None
    max_output_tokens: int | None = Field(default=None, ge=1)
    store: bool | None = None
    metadata: Metadata = None
    stream: bool | None = None
    background: bool | None = None
    truncation: Literal["auto", "disabled"] | None = None
    user: str | None = Field(default=None, max_length=512)
    include: list[str] | None = None

    @field_validator("include")
    @classmethod
    def _include(cls, value: list[str] | None) -> list[str] | None:
        for name in value or []:
            if name not in INCLUDABLE:
                raise ValueError(f"'{name[:100]}' is not one of: {', '.join(INCLUDABLE)}")
        return value

    @field_validator("conversation")
    @classmethod
    def _conversation(cls, value: str | Json | None) -> str | Json | None:
        if isinstance(value, dict) and not isinstance(value.get("id"), str):
            raise ValueError("must be a conversation id or {'id': ...}")
        return value

    @property
    def conversation_id(self) -> str | None:
        if isinstance(self.conversation, dict):
            return str(self.conversation["id"])
        return self.conversation

    @property
    def reference(self) -> Json | None:
        return self.agent_reference if self.agent_reference is not None else self.agent
