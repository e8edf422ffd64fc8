"""Any OpenAI-compatible chat-completions server (OpenAI, Azure OpenAI, Ollama, vLLM,
llama.cpp server, …) through the official `openai` client."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import openai

from ferry.models.backend import (
    ChatMessage,
    ChatRequest,
    ChatResult,
    DeltaCallback,
    ModelBackend,
    ModelError,
    ToolCall,
    Usage,
)

if TYPE_CHECKING:
    from ferry.models.router import ModelConfig

__all__ = ["OpenAIBackend"]

Json = dict[str, Any]


def _message(message: ChatMessage) -> Json:
    body: Json = {"role": message.role, "content": message.content}
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


def _error(exc: Exception) -> ModelError:
    if isinstance(exc, openai.APITimeoutError):
        return ModelError(f"the model server timed out: {exc}", code="timeout")
    if isinstance(exc, openai.APIStatusError):
        code = "rate_limit_exceeded" if exc.status_code == 429 else "server_error"
        return ModelError(f"model server answered {exc.status_code}: {exc.message}", code=code)
    if isinstance(exc, openai.APIConnectionError):
        return ModelError(f"cannot reach the model server: {exc}", code="server_error")
    return ModelError(f"model server error: {exc}", code="server_error")


class OpenAIBackend(ModelBackend):
    def __init__(
        self,
        client: openai.AsyncOpenAI,
        *,
        name: str = "openai",
        model: str | None = None,
    ) -> None:
        self.client = client
        self.name = name
        self.model = model

    @classmethod
    def from_config(cls, config: ModelConfig) -> OpenAIBackend:
        if config.backend == "azure-openai":
            client: openai.AsyncOpenAI = openai.AsyncAzureOpenAI(
                azure_endpoint=config.base_url or "",
                api_key=config.api_key or "none",
                api_version=config.api_version or "2024-10-21",
                timeout=120,
                max_retries=2,
            )
            return cls(client, name="azure-openai", model=config.model)
        client = openai.AsyncOpenAI(
            base_url=config.base_url, api_key=config.api_key or "none", timeout=120, max_retries=2
        )
        return cls(client, model=config.model)

    def _arguments(self, request: ChatRequest) -> Json:
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
            arguments["parallel_tool_calls"] = request.parallel_tool_calls
            if request.tool_choice is not None:
                arguments["tool_choice"] = request.tool_choice
        response_format = _response_format(request.response_format)
        if response_format is not None:
            arguments["response_format"] = response_format
        for key in ("temperature", "top_p", "max_completion_tokens"):
            if getattr(request, key) is not None:
                arguments[key] = getattr(request, key)
        return arguments

    async def complete(
        self, request: ChatRequest, on_delta: DeltaCallback | None = None
    ) -> ChatResult:
        arguments = self._arguments(request)
        try:
            if on_delta is None:
                response = await self.client.chat.completions.create(**arguments)
                return self._result(response)
            return await self._stream(arguments, on_delta)
        except ModelError:
            raise
        except Exception as exc:
            raise _error(exc) from exc

    @staticmethod
    def _result(response: Any) -> ChatResult:
        if not response.choices:
            raise ModelError("the model server returned no choices", code="server_error")
        choice = response.choices[0]
        calls = tuple(
            ToolCall(call.id, call.function.name, call.function.arguments or "{}")
            for call in choice.message.tool_calls or []
            if getattr(call, "function", None) is not None
        )
        usage = response.usage
        return ChatResult(
            text=choice.message.content,
            tool_calls=calls,
            usage=Usage(usage.prompt_tokens, usage.completion_tokens) if usage else Usage(),
            finish_reason="tool_calls" if calls else (choice.finish_reason or "stop"),
        )

    async def _stream(self, arguments: Json, on_delta: DeltaCallback) -> ChatResult:
        stream = await self.client.chat.completions.create(
            **arguments, stream=True, stream_options={"include_usage": True}
        )
        text: list[str] = []
        calls: dict[int, Json] = {}
        usage = Usage()
        finish = "stop"
        async for chunk in stream:
            if chunk.usage is not None:
                usage = Usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
            for choice in chunk.choices:
                delta = choice.delta
                if delta.content:
                    text.append(delta.content)
                    await on_delta(delta.content)
                for call in delta.tool_calls or []:
                    entry = calls.setdefault(call.index, {"id": "", "name": "", "arguments": ""})
                    entry["id"] = call.id or entry["id"]
                    if call.function is not None:
                        entry["name"] += call.function.name or ""
                        entry["arguments"] += call.function.arguments or ""
                if choice.finish_reason:
                    finish = choice.finish_reason
        tool_calls = tuple(
            ToolCall(c["id"], c["name"], c["arguments"] or "{}") for _, c in sorted(calls.items())
        )
        return ChatResult(
            text="".join(text) if text else None,
            tool_calls=tool_calls,
            usage=usage,
            finish_reason="tool_calls" if tool_calls else finish,
        )

    async def close(self) -> None:
        await self.client.close()
