"""Items of the Responses and Conversations APIs: read from a client into the core's items,
and written back out in the API's shapes.

A client may send a plain string (one user message), easy messages (`{"role", "content"}`),
typed messages with `input_text`/`output_text` parts, and the outputs of function calls it was
asked to make (`function_call_output`); also function calls of its own history. Images and
files are refused plainly until Ferry stores files.
"""

from __future__ import annotations

from typing import Any

from ferry.agents.errors import BadRequest, NotSupported
from ferry.runs.calls import Call
from ferry.runs.records import call_item, message_item, output_item, text_of, text_parts
from ferry.runs.status import CallState

__all__ = ["input_items", "render_item"]

Json = dict[str, Any]

_ROLES = ("user", "assistant", "system", "developer")
_TEXT_PARTS = ("input_text", "output_text", "text")
_LIMIT = 256_000


def _text(content: Any, where: str) -> str:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise BadRequest(f"{where}.content must be a string or an array of parts", param=where)
    pieces = []
    for index, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ("input_image", "input_file", "input_audio", "image_url"):
            raise NotSupported(
                f"{where}.content[{index}]: '{kind}' parts are not supported by Ferry yet "
                "(only text)",
                param=f"{where}.content",
            )
        if kind not in _TEXT_PARTS or not isinstance(part.get("text"), str):
            raise BadRequest(
                f"{where}.content[{index}] must be a text part ({{'type': 'input_text', "
                "'text': ...}})",
                param=f"{where}.content",
            )
        pieces.append(part["text"])
    return "".join(pieces)


def _output(value: Any, where: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return _text(value, where)
    raise BadRequest(f"{where}.output must be a string", param=f"{where}.output")


def _message(item: Json, where: str, now: int) -> Json:
    role = item.get("role")
    if role not in _ROLES:
        raise BadRequest(f"{where}.role must be one of {', '.join(_ROLES)}", param=f"{where}.role")
    text = _text(item.get("content"), where)
    if len(text) > _LIMIT:
        raise BadRequest(f"{where} is longer than {_LIMIT} characters", param=where)
    return message_item(role, text_parts(text), now)


def _function_output(item: Json, where: str, now: int) -> Json:
    call_id = item.get("call_id")
    if not isinstance(call_id, str) or not call_id:
        raise BadRequest(f"{where}.call_id must be a string", param=f"{where}.call_id")
    return output_item(call_id, _output(item.get("output"), where), "function", now)


def _function_call(item: Json, where: str, now: int) -> Json:
    call_id, name, arguments = (item.get(key) for key in ("call_id", "name", "arguments"))
    if not (isinstance(call_id, str) and isinstance(name, str) and isinstance(arguments, str)):
        raise BadRequest(f"{where} needs 'call_id', 'name' and 'arguments' strings", param=where)
    return call_item(call_id, name, arguments, "function", now)


_READERS = {
    "message": _message,
    "function_call_output": _function_output,
    "function_call": _function_call,
}


def input_items(value: Any, now: int, *, param: str = "input") -> list[Json]:
    """A client's input as the core's items (in order)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [message_item("user", text_parts(value), now)]
    if not isinstance(value, list):
        raise BadRequest(f"'{param}' must be a string or an array of items", param=param)
    made = []
    for index, item in enumerate(value):
        where = f"{param}[{index}]"
        if not isinstance(item, dict):
            raise BadRequest(f"{where} must be an object", param=where)
        kind = item.get("type", "message")
        reader = _READERS.get(kind) if isinstance(kind, str) else None
        if reader is not None:
            made.append(reader(item, where, now))
        elif isinstance(kind, str) and kind in _NOT_YET:
            raise NotSupported(f"{where}: items of type '{kind}' are not supported by Ferry")
        else:
            raise BadRequest(f"{where}: unknown item type '{str(kind)[:64]}'", param=where)
    return made


_NOT_YET = (
    "item_reference",
    "reasoning",
    "file_search_call",
    "web_search_call",
    "computer_call",
    "computer_call_output",
    "code_interpreter_call",
    "image_generation_call",
    "local_shell_call",
    "local_shell_call_output",
    "mcp_list_tools",
    "mcp_approval_request",
    "mcp_approval_response",
    "mcp_call",
    "custom_tool_call",
    "custom_tool_call_output",
)


def _call_status(call: Call | None) -> str:
    if call is None or call.state == CallState.ANSWERED:
        return "completed"
    if call.state == CallState.PENDING:
        return "in_progress" if call.queued else "completed"
    return "incomplete"


def render_item(
    item: Json, calls: dict[str, Call] | None = None, agent: Json | None = None
) -> Json:
    """An item as the Responses and Conversations APIs show it. `calls`: the state of the
    calls that runs made, by item id (a client's own calls have none)."""
    kind = item["type"]
    reference = _reference(item.get("agent") or agent)
    if kind == "message":
        assistant = item["role"] == "assistant"
        part = "output_text" if assistant else "input_text"
        content = [
            {"type": part, "text": text_of(item), "annotations": [], "logprobs": []}
            if assistant
            else {"type": part, "text": text_of(item)}
        ]
        if not assistant and not text_of(item) and not item.get("content"):
            content = []
        view: Json = {
            "type": "message",
            "id": item["id"],
            "status": item.get("status", "completed"),
            "role": item["role"],
            "content": content,
        }
    elif kind == "function_call":
        call = (calls or {}).get(item["id"])
        queued = item.get("tool") == "azure_function"
        view = {
            "type": "azure_function_call" if queued else "function_call",
            "id": item["id"],
            "call_id": item["call_id"],
            "name": item["name"],
            "arguments": item["arguments"],
            "status": _call_status(call),
        }
    else:
        queued = item.get("tool") == "azure_function"
        view = {
            "type": "azure_function_call_output" if queued else "function_call_output",
            "id": item["id"],
            "call_id": item["call_id"],
            "output": item["output"],
            "status": "completed",
        }
    if reference is not None and (kind != "message" or item["role"] == "assistant"):
        view["agent_reference"] = reference
    return view


def _reference(agent: Json | None) -> Json | None:
    if not agent or not agent.get("name"):
        return None
    reference = {"type": "agent_reference", "name": agent["name"]}
    if agent.get("version"):
        reference["version"] = str(agent["version"])
    return reference
