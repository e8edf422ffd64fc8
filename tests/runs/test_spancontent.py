"""The opt-in message content of chat spans, in the GenAI conventions' JSON shapes."""

from __future__ import annotations

import json

from ferry.models.backend import ChatMessage, ChatResult, ImagePart, ToolCall
from ferry.runs.spancontent import input_messages, output_messages

CALL = ToolCall("call_1", "GetWeather", '{"location": "Oslo"}')


def test_inputs_keep_each_role_its_parts_and_never_an_images_bytes() -> None:
    sent = json.loads(
        input_messages(
            [
                ChatMessage("system", "Be brief."),
                ChatMessage("user", "Look", images=(ImagePart("data:image/png;base64,AAAA"),)),
                ChatMessage("assistant", tool_calls=(CALL,)),
                ChatMessage("tool", "61 degrees", tool_call_id="call_1"),
            ]
        )
    )
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "tool"]
    assert sent[0]["parts"] == [{"type": "text", "content": "Be brief."}]
    assert sent[1]["parts"][1] == {"type": "uri", "modality": "image", "uri": "(image)"}
    assert "AAAA" not in json.dumps(sent)
    assert sent[2]["parts"] == [
        {"type": "tool_call", "id": "call_1", "name": "GetWeather", "arguments": CALL.arguments}
    ]
    assert sent[3]["parts"] == [
        {"type": "tool_call_response", "id": "call_1", "response": "61 degrees"}
    ]


def test_the_output_is_one_assistant_message_with_its_finish_reason() -> None:
    said = json.loads(output_messages(ChatResult(None, (CALL,), finish_reason="tool_calls")))
    assert said == [
        {
            "role": "assistant",
            "parts": [
                {
                    "type": "tool_call",
                    "id": "call_1",
                    "name": "GetWeather",
                    "arguments": CALL.arguments,
                }
            ],
            "finish_reason": "tool_calls",
        }
    ]
    assert json.loads(output_messages(ChatResult("Hi")))[0]["parts"] == [
        {"type": "text", "content": "Hi"}
    ]
