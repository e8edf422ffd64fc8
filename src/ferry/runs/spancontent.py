"""What a `chat` span records of the conversation when the user opts in to message content
(`OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`): the GenAI conventions' JSON
shapes of the messages sent to the model and of its answer, tool calls and results
included. Images are named, never inlined: a span is no place for their bytes."""

from __future__ import annotations

from collections.abc import Sequence

from ferry import jsontext
from ferry.models.backend import ChatMessage, ChatResult, ToolCall
from ferry.types import Json

__all__ = ["input_messages", "output_messages"]


def _call_part(call: ToolCall) -> Json:
    return {"type": "tool_call", "id": call.id, "name": call.name, "arguments": call.arguments}


def _parts(message: ChatMessage) -> list[Json]:
    if message.role == "tool":
        return [
            {"type": "tool_call_response", "id": message.tool_call_id, "response": message.content}
        ]
    parts: list[Json] = []
    if message.content:
        parts.append({"type": "text", "content": message.content})
    parts += [{"type": "uri", "modality": "image", "uri": "(image)"} for _ in message.images]
    parts += [_call_part(call) for call in message.tool_calls]
    return parts


def input_messages(messages: Sequence[ChatMessage]) -> str:
    """`gen_ai.input.messages` (the system message included, as the model saw it)."""
    return jsontext.dumps([{"role": m.role, "parts": _parts(m)} for m in messages])


def output_messages(result: ChatResult) -> str:
    """`gen_ai.output.messages`: the model's one answer."""
    parts: list[Json] = [{"type": "text", "content": result.text}] if result.text else []
    parts += [_call_part(call) for call in result.tool_calls]
    return jsontext.dumps(
        [{"role": "assistant", "parts": parts, "finish_reason": result.finish_reason}]
    )
