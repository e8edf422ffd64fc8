"""Request bodies of the classic agents API, checked with pydantic.

Unknown keys are ignored (the SDKs send fields of newer service versions); known keys must
have the right type and range, or the request is refused with a 400 naming the field.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from ferry.agents.bodies import TEXT_LIMIT as _TEXT
from ferry.agents.bodies import Body as _Body
from ferry.agents.bodies import Metadata
from ferry.agents.errors import BadRequest, NotSupported
from ferry.agents.tools import check_tool_resources, classic_tools
from ferry.runs.records import text_parts
from ferry.types import Json

__all__ = [
    "AssistantCreate",
    "AssistantUpdate",
    "MessageCreate",
    "MessageUpdate",
    "RunCreate",
    "RunUpdate",
    "ThreadAndRunCreate",
    "ThreadCreate",
    "ThreadUpdate",
    "ToolOutputs",
]


class _Sampling(_Body):
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    response_format: str | Json | None = None

    @field_validator("temperature", "top_p", mode="before")
    @classmethod
    def _number(cls, value: Any) -> Any:
        return float(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("response_format")
    @classmethod
    def _format(cls, value: str | Json | None) -> str | Json | None:
        if value is None or value in ("auto", "none"):
            return value
        kinds = ("text", "json_object", "json_schema")
        if isinstance(value, dict) and value.get("type") in kinds:
            return value
        if value in kinds:
            return value
        raise ValueError("must be 'auto' or an object with type text, json_object or json_schema")


class _AgentFields(_Sampling):
    name: str | None = Field(default=None, max_length=256)
    description: str | None = Field(default=None, max_length=512)
    instructions: str | None = Field(default=None, max_length=_TEXT)
    tools: list[Json] | None = None
    tool_resources: Json | None = None
    metadata: Metadata = None

    @field_validator("tools")
    @classmethod
    def _tools(cls, value: list[Json] | None) -> list[Json] | None:
        """Checked, and stored in the core's shape (`ferry.runs.tools`)."""
        return None if value is None else classic_tools(value)

    @field_validator("tool_resources")
    @classmethod
    def _resources(cls, value: Json | None) -> Json | None:
        return None if value is None else check_tool_resources(value)


class AssistantCreate(_AgentFields):
    model: str = Field(min_length=1, max_length=256)


class AssistantUpdate(_AgentFields):
    model: str | None = Field(default=None, min_length=1, max_length=256)


_DETAIL = ("auto", "low", "high")


def _image_part(part: Json) -> Json:
    """An image part in the core's shape: `{"type": "image_file", "file_id", "detail"}` or
    `{"type": "image_url", "url", "detail"}`."""
    kind = part["type"]
    body = part.get(kind)
    if not isinstance(body, dict):
        raise BadRequest(f"a '{kind}' content part needs a '{kind}' object", param="content")
    detail = body.get("detail") or "auto"
    if detail not in _DETAIL:
        raise BadRequest(f"'{kind}.detail' must be auto, low or high", param="content")
    if kind == "image_file":
        file_id = body.get("file_id")
        if not isinstance(file_id, str) or not file_id:
            raise BadRequest("'image_file.file_id' must name an uploaded file", param="content")
        return {"type": "image_file", "file_id": file_id, "detail": detail}
    url = body.get("url")
    if not isinstance(url, str) or not url.startswith(("https://", "http://", "data:image/")):
        raise BadRequest(
            "'image_url.url' must be an http(s) URL or a data:image/… URL", param="content"
        )
    return {"type": "image_url", "url": url, "detail": detail}


def message_parts(content: Any) -> list[Json]:
    """A message's `content` (a string, or an array of text and image parts) in the core's
    shape (`ferry.runs.records`)."""
    if isinstance(content, str):
        return text_parts(content)
    if not isinstance(content, list) or not content:
        raise BadRequest(
            "'content' must be a string or an array of text and image parts", param="content"
        )
    parts: list[Json] = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else type(part).__name__
        if not isinstance(part, dict) or kind not in ("text", "image_file", "image_url"):
            raise NotSupported(
                f"message content of type '{kind}' is not supported by Ferry (text, "
                "image_file and image_url are)",
                param="content",
            )
        if kind != "text":
            parts.append(_image_part(part))
            continue
        text = part.get("text")
        if isinstance(text, dict):
            text = text.get("value")
        if not isinstance(text, str):
            raise BadRequest("a text content part needs a 'text' string", param="content")
        parts += text_parts(text)
    return parts


def _attachment(value: Any) -> Json:
    if not isinstance(value, dict) or not isinstance(value.get("file_id"), str):
        raise ValueError("each attachment must be {'file_id': ..., 'tools': [...]}")
    tools = value.get("tools") or []
    if not isinstance(tools, list):
        raise ValueError("an attachment's 'tools' must be an array")
    kinds = []
    for tool in tools:
        kind = tool.get("type") if isinstance(tool, dict) else None
        if kind not in ("file_search", "code_interpreter"):
            raise ValueError(
                f"attachment tool type '{kind}' is not one of: file_search, code_interpreter"
            )
        kinds.append({"type": kind})
    return {"file_id": value["file_id"], "tools": kinds}


class MessageCreate(_Body):
    role: Literal["user", "assistant"]
    content: str | list[Any]
    attachments: list[Any] | None = None
    metadata: Metadata = None

    @field_validator("attachments")
    @classmethod
    def _attachments(cls, value: list[Any] | None) -> list[Any] | None:
        if value is None:
            return None
        if len(value) > 10:
            raise ValueError("a message may have at most 10 attachments")
        return [_attachment(item) for item in value]

    @property
    def parts(self) -> list[Json]:
        """The content in the core's shape; refuses what Ferry cannot store."""
        parts = message_parts(self.content)
        if sum(len(p.get("text") or "") for p in parts) > _TEXT:
            raise BadRequest(f"message content is longer than {_TEXT} characters")
        return parts

    @property
    def search_files(self) -> list[str]:
        """The attached files meant for file_search."""
        return [
            a["file_id"]
            for a in self.attachments or []
            if any(t["type"] == "file_search" for t in a["tools"])
        ]


class MessageUpdate(_Body):
    metadata: Metadata = None


class ThreadCreate(_Body):
    messages: list[MessageCreate] | None = Field(default=None, max_length=32)
    tool_resources: Json | None = None
    metadata: Metadata = None

    @field_validator("tool_resources")
    @classmethod
    def _resources(cls, value: Json | None) -> Json | None:
        return None if value is None else check_tool_resources(value)


class ThreadUpdate(ThreadCreate):
    pass


class Truncation(_Body):
    type: Literal["auto", "last_messages"]
    last_messages: int | None = Field(default=None, ge=1)


class _RunFields(_Sampling):
    assistant_id: str = Field(min_length=1, max_length=64)
    model: str | None = Field(default=None, min_length=1, max_length=256)
    instructions: str | None = Field(default=None, max_length=_TEXT)
    tools: list[Json] | None = None
    metadata: Metadata = None
    stream: bool = False
    max_prompt_tokens: int | None = Field(default=None, ge=256)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    truncation_strategy: Truncation | None = None
    tool_choice: str | Json | None = None
    parallel_tool_calls: bool = True

    @field_validator("tools")
    @classmethod
    def _tools(cls, value: list[Json] | None) -> list[Json] | None:
        return None if value is None else classic_tools(value)

    @field_validator("tool_choice")
    @classmethod
    def _choice(cls, value: str | Json | None) -> str | Json | None:
        """ "auto", "none", "required", or a named tool, stored as `{"type", "name"}`."""
        if value is None or value in ("auto", "none", "required"):
            return value
        kind = value.get("type") if isinstance(value, dict) else None
        function = value.get("function") if isinstance(value, dict) else None
        if kind == "azure_function" and isinstance(value, dict):
            function = (value.get("azure_function") or {}).get("function") or function
        if (
            kind in ("function", "azure_function")
            and isinstance(function, dict)
            and isinstance(function.get("name"), str)
        ):
            return {"type": "function", "name": function["name"]}
        raise ValueError(
            "must be 'auto', 'none', 'required' or {'type': 'function', 'function': {'name'}}"
        )


class RunCreate(_RunFields):
    additional_instructions: str | None = Field(default=None, max_length=_TEXT)
    additional_messages: list[MessageCreate] | None = Field(default=None, max_length=32)
    tool_resources: Json | None = None
    """The run's own: MCP servers' headers and approval policy."""

    @field_validator("tool_resources")
    @classmethod
    def _resources(cls, value: Json | None) -> Json | None:
        return None if value is None else check_tool_resources(value)


class ThreadAndRunCreate(_RunFields):
    thread: ThreadCreate | None = None
    tool_resources: Json | None = None

    @field_validator("tool_resources")
    @classmethod
    def _resources(cls, value: Json | None) -> Json | None:
        return None if value is None else check_tool_resources(value)


class RunUpdate(_Body):
    metadata: Metadata = None


class ToolOutput(_Body):
    tool_call_id: str = Field(min_length=1, max_length=64)
    output: str = Field(max_length=_TEXT)


class ToolApproval(_Body):
    tool_call_id: str = Field(min_length=1, max_length=64)
    approve: bool
    headers: dict[str, str] | None = None


class ToolOutputs(_Body):
    """Outputs of the run's function calls, or the user's approvals of its MCP calls."""

    tool_outputs: list[ToolOutput] | None = Field(default=None, max_length=128)
    tool_approvals: list[ToolApproval] | None = Field(default=None, max_length=128)
    stream: bool = False

    @model_validator(mode="after")
    def _some(self) -> ToolOutputs:
        if not self.tool_outputs and not self.tool_approvals:
            raise ValueError("give tool_outputs or tool_approvals")
        return self
