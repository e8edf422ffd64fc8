"""Any OpenAI-compatible chat-completions server (OpenAI, Azure OpenAI, Ollama, vLLM,
llama.cpp server, …) through the official `openai` client, so its retries, timeouts and Azure
URL rules are the ones people already know."""

from __future__ import annotations

from typing import Any

import openai

from ferry.errors import ConfigError
from ferry.models.backend import (
    ChatMessage,
    ChatRequest,
    ChatResult,
    DeltaCallback,
    ModelBackend,
    ToolCall,
    Usage,
)
from ferry.models.config import DEFAULT_AZURE_API_VERSION, ModelConfig
from ferry.models.errors import ModelError
from ferry.types import Json

__all__ = ["OpenAIBackend"]

_OPENAI_URL = "https://api.openai.com/v1"
_NO_KEY = "unused"
"""Local servers (Ollama, vLLM, …) need no key, but the client insists on one."""


class OpenAIBackend(ModelBackend):
    accepts_images = True
    """Chat completions over HTTP; `azure=True` speaks Azure OpenAI's deployment URLs."""

    def __init__(
        self,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        model: str | None = None,
        azure: bool = False,
        api_version: str | None = None,
        timeout: float = 120.0,
        max_retries: int = 2,
    ) -> None:
        self.name = "azure-openai" if azure else "openai"
        self.model = model
        """The model's (Azure: the deployment's) name at the server; else the agent's model."""
        try:
            if azure:
                if not base_url:
                    raise ConfigError("an azure-openai model needs an endpoint (base_url)")
                self.client: openai.AsyncOpenAI = openai.AsyncAzureOpenAI(
                    azure_endpoint=base_url,
                    api_key=api_key,
                    api_version=api_version or DEFAULT_AZURE_API_VERSION,
                    timeout=timeout,
                    max_retries=max_retries,
                )
            else:
                # Explicit values, so the process environment cannot change the target.
                self.client = openai.AsyncOpenAI(
                    base_url=base_url or _OPENAI_URL,
                    api_key=api_key or _NO_KEY,
                    timeout=timeout,
                    max_retries=max_retries,
                )
        except openai.OpenAIError as exc:
            raise ConfigError(f"cannot set up the {self.name} model backend: {exc}") from None

    @classmethod
    def from_config(
        cls, config: ModelConfig, *, timeout: float = 120.0, max_retries: int = 2
    ) -> OpenAIBackend:
        """The backend `config` describes; its own timeout and retries win over these."""
        return cls(
            base_url=config.base_url,
            api_key=config.api_key,
            model=config.model,
            azure=config.backend == "azure-openai",
            api_version=config.api_version,
            timeout=config.timeout if config.timeout is not None else timeout,
            max_retries=config.max_retries if config.max_retries is not None else max_retries,
        )

    @property
    def base_url(self) -> str:
        return str(self.client.base_url)

    def arguments(self, request: ChatRequest) -> Json:
        """The keyword arguments of `chat.completions.create` for `request` (no streaming)."""
        arguments: Json = {
            "model": self.model or request.model,
            "messages": [_message(m) for m in request.messages],
        }
        if request.tools:
            arguments["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": tool.name,
                        "description": tool.description,
                        "parameters": tool.parameters,
                    },
                }
                for tool in request.tools
            ]
            # Servers refuse both without tools.
            arguments["parallel_tool_calls"] = request.parallel_tool_calls
            if request.tool_choice is not None:
                arguments["tool_choice"] = request.tool_choice
        response_format = _response_format(request.response_format)
        if response_format is not None:
            arguments["response_format"] = response_format
        for key in ("temperature", "top_p", "max_completion_tokens"):
            value = getattr(request, key)
            if value is not None:
                arguments[key] = value
        return arguments

    async def complete(
        self, request: ChatRequest, on_delta: DeltaCallback | None = None
    ) -> ChatResult:
        arguments = self.arguments(request)
        try:
            if on_delta is None:
                response = await self.client.chat.completions.create(**arguments)
                return _result(response)
            return await self._stream(arguments, on_delta)
        except ModelError:
            raise
        except openai.APITimeoutError as exc:
            raise ModelError(
                f"{self.name}: the model server timed out ({exc})", code="timeout"
            ) from exc
        except openai.APIStatusError as exc:
            code = "rate_limit_exceeded" if exc.status_code == 429 else "server_error"
            raise ModelError(
                f"{self.name}: status {exc.status_code}: {_status_message(exc)}", code=code
            ) from exc
        except openai.APIConnectionError as exc:
            raise ModelError(
                f"{self.name}: cannot reach the model server at {self.base_url}: {exc}"
            ) from exc
        except Exception as exc:
            # A malformed answer (bad JSON, missing fields) or any other client failure.
            raise ModelError(f"{self.name}: bad answer from the model server: {exc!r}") from exc

    async def _stream(self, arguments: Json, on_delta: DeltaCallback) -> ChatResult:
        stream = await self.client.chat.completions.create(
            **arguments, stream=True, stream_options={"include_usage": True}
        )
        text: list[str] = []
        calls: dict[int, list[str]] = {}
        """index → [id, name, arguments]: a call arrives in pieces keyed by its index."""
        usage = Usage()
        finish = "stop"
        async with stream:
            async for chunk in stream:
                if chunk.usage is not None:
                    usage = Usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
                for choice in chunk.choices:
                    delta = choice.delta
                    if delta.content:
                        text.append(delta.content)
                        await on_delta(delta.content)
                    for piece in delta.tool_calls or ():
                        entry = calls.setdefault(piece.index, ["", "", ""])
                        entry[0] = piece.id or entry[0]
                        if piece.function is not None:
                            entry[1] += piece.function.name or ""
                            entry[2] += piece.function.arguments or ""
                    if choice.finish_reason:
                        finish = choice.finish_reason
        tool_calls = tuple(
            ToolCall(id=c[0], name=c[1], arguments=c[2] or "{}") for _, c in sorted(calls.items())
        )
        return ChatResult(
            text="".join(text) if text else None,
            tool_calls=tool_calls,
            usage=usage,
            finish_reason="tool_calls" if tool_calls else finish,
        )

    async def close(self) -> None:
        await self.client.close()


def _message(message: ChatMessage) -> Json:
    body: Json = {"role": message.role, "content": message.content}
    if message.images:
        parts: list[Json] = [{"type": "text", "text": message.content}] if message.content else []
        parts += [
            {"type": "image_url", "image_url": {"url": image.url, "detail": image.detail}}
            for image in message.images
        ]
        body["content"] = parts
    if message.tool_calls:
        body["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
            for call in message.tool_calls
        ]
    if message.tool_call_id is not None:
        body["tool_call_id"] = message.tool_call_id
    return body


def _response_format(value: str | Json | None) -> Json | None:
    if value is None or value in ("auto", "none"):
        return None
    if isinstance(value, str):
        return {"type": value}
    return value


def _result(response: Any) -> ChatResult:
    if not response.choices:
        raise ModelError("the model server answered without choices")
    choice = response.choices[0]
    calls = tuple(
        ToolCall(id=call.id, name=call.function.name, arguments=call.function.arguments or "{}")
        for call in choice.message.tool_calls or ()
        if getattr(call, "function", None) is not None
    )
    usage = response.usage
    return ChatResult(
        text=choice.message.content,
        tool_calls=calls,
        usage=Usage(usage.prompt_tokens, usage.completion_tokens) if usage else Usage(),
        finish_reason="tool_calls" if calls else (choice.finish_reason or "stop"),
    )


def _status_message(exc: openai.APIStatusError) -> str:
    """The server's own words: `error.message` of an OpenAI-style body, else the raw body."""
    body = exc.body
    if isinstance(body, dict):
        message = body.get("message")
        if isinstance(message, str) and message:
            return message
    if isinstance(body, str) and body:
        return body[:500]
    return exc.message
