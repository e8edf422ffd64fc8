"""Items of the Responses and Conversations APIs: read from a client into the core's items,
and written back out in the API's shapes.

A client may send a plain string (one user message), easy messages (`{"role", "content"}`),
typed messages with `input_text`/`output_text` and `input_image` parts (a URL or an uploaded
file), and the outputs of function calls it was asked to make (`function_call_output`); also
function calls of its own history. `input_file` parts are refused plainly.
"""

from __future__ import annotations

from typing import Any

from ferry.agents.errors import BadRequest, NotSupported
from ferry.ids import new_id
from ferry.runs.calls import Call
from ferry.runs.prompt import arguments_object
from ferry.runs.records import call_item, message_item, output_item, text_parts
from ferry.runs.status import CallState
from ferry.types import Json

__all__ = ["input_items", "render_item"]

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
        if kind in ("input_file", "input_audio", "image_url", "input_image"):
            raise NotSupported(
                f"{where}.content[{index}]: '{kind}' parts are not supported by Ferry here "
                "(messages take text and input_image parts)",
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


def _image(part: Json, where: str) -> Json:
    """An `input_image` part (a URL or an uploaded file) in the core's shape."""
    detail = part.get("detail") or "auto"
    if detail not in ("auto", "low", "high"):
        raise BadRequest(f"{where}.detail must be auto, low or high", param=where)
    url, file_id = part.get("image_url"), part.get("file_id")
    if isinstance(file_id, str) and file_id:
        return {"type": "image_file", "file_id": file_id, "detail": detail}
    if isinstance(url, str) and url.startswith(("https://", "http://", "data:image/")):
        return {"type": "image_url", "url": url, "detail": detail}
    raise BadRequest(
        f"{where} needs an 'image_url' (http(s) or data:image/…) or a 'file_id'", param=where
    )


def _content(content: Any, where: str) -> list[Json]:
    """A message's content (a string, or text and image parts) in the core's shape."""
    if not isinstance(content, list):
        return text_parts(_text(content, where))
    parts: list[Json] = []
    for index, part in enumerate(content):
        if isinstance(part, dict) and part.get("type") == "input_image":
            parts.append(_image(part, f"{where}.content[{index}]"))
        else:
            parts += text_parts(_text([part], where))
    return parts


def _message(item: Json, where: str, now: int) -> Json:
    role = item.get("role")
    if role not in _ROLES:
        raise BadRequest(f"{where}.role must be one of {', '.join(_ROLES)}", param=f"{where}.role")
    parts = _content(item.get("content"), where)
    if sum(len(part.get("text") or "") for part in parts) > _LIMIT:
        raise BadRequest(f"{where} is longer than {_LIMIT} characters", param=where)
    return message_item(role, parts, now)


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


def _approval(item: Json, where: str, now: int) -> Json:
    """`mcp_approval_response`: the user's answer to an `mcp_approval_request`."""
    request, approve = item.get("approval_request_id"), item.get("approve")
    if not isinstance(request, str) or not request or not isinstance(approve, bool):
        raise BadRequest(
            f"{where} needs 'approval_request_id' (a string) and 'approve' (true or false)",
            param=where,
        )
    reason = item.get("reason")
    return {
        "id": new_id("mcpr"),
        "type": "mcp_approval_response",
        "approval_request_id": request,
        "approve": approve,
        "reason": reason if isinstance(reason, str) else None,
        "created_at": now,
    }


_READERS = {
    "message": _message,
    "function_call_output": _function_output,
    "function_call": _function_call,
    "mcp_approval_response": _approval,
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


def _annotation(note: Json) -> Json:
    if note.get("type") == "file_path":
        return {
            "type": "container_file_citation",
            "container_id": note.get("container_id") or "",
            "file_id": note["file_id"],
            "filename": note["text"].rsplit("/", 1)[-1],
            "start_index": note["start_index"],
            "end_index": note["end_index"],
        }
    if note.get("type") != "file_citation":
        return note
    return {
        "type": "file_citation",
        "file_id": note["file_id"],
        "filename": note["filename"],
        "index": note["start_index"],
    }


def _parts(item: Json) -> list[Json]:
    """A message's content as the Responses API writes it."""
    assistant = item["role"] == "assistant"
    parts: list[Json] = []
    for part in item.get("content") or []:
        kind = part["type"]
        if kind == "text" and assistant:
            notes = [_annotation(note) for note in part.get("annotations") or []]
            parts.append(
                {"type": "output_text", "text": part["text"], "annotations": notes, "logprobs": []}
            )
        elif kind == "text":
            parts.append({"type": "input_text", "text": part["text"]})
        elif kind == "image_url":
            parts.append(
                {"type": "input_image", "image_url": part["url"], "detail": part["detail"]}
            )
        elif kind == "image_file" and not assistant:
            parts.append(
                {"type": "input_image", "file_id": part["file_id"], "detail": part["detail"]}
            )
    if assistant and not parts:
        parts.append({"type": "output_text", "text": "", "annotations": [], "logprobs": []})
    return parts


def _search_call(item: Json, results: bool) -> Json:
    shown = None
    if results:
        shown = [
            {
                "file_id": r["file_id"],
                "filename": r["file_name"],
                "score": r["score"],
                "text": r["content"],
                "attributes": {},
            }
            for r in item.get("results") or []
        ]
    return {
        "type": "file_search_call",
        "id": item["id"],
        "status": "completed" if "output" in item else "in_progress",
        "queries": item.get("queries") or [],
        "results": shown,
    }


def _code_call(item: Json) -> Json:
    """A code_interpreter call: the program, and what it printed and showed (an image as
    the path of its file's content in the files API)."""
    outputs: list[Json] = []
    for output in item.get("outputs") or []:
        if output["type"] == "logs":
            outputs.append({"type": "logs", "logs": output["logs"]})
        elif output["type"] == "image":
            outputs.append({"type": "image", "url": f"files/{output['file_id']}/content"})
    done = "output" in item
    failed = done and (item.get("error") or {}).get("code") not in (None, "execution_error")
    return {
        "type": "code_interpreter_call",
        "id": item["id"],
        "status": ("failed" if failed else "completed") if done else "in_progress",
        "code": str((arguments_object(item["arguments"]) or {}).get("code") or ""),
        "container_id": item.get("container_id") or "",
        "outputs": outputs if done else None,
    }


_PLACES = ("conversation_id", "run_id", "step_id", "created_at", "agent")


def _mcp_call(item: Json, call: Call | None) -> Json:
    """A call to an MCP server's tool; one that waited for approval in a response that
    ended shows as the request the next response answers."""
    if item.get("approval_request"):
        return {
            "type": "mcp_approval_request",
            "id": item["id"],
            "server_label": item.get("server_label") or "",
            "name": item.get("target") or item["name"],
            "arguments": item["arguments"],
        }
    error = item.get("error")
    return {
        "type": "mcp_call",
        "id": item["id"],
        "server_label": item.get("server_label") or "",
        "name": item.get("target") or item["name"],
        "arguments": item["arguments"],
        "output": item.get("output") if error is None else None,
        "error": None if error is None else error.get("message"),
        "status": _call_status(call) if "output" not in item else "completed",
    }


def render_item(
    item: Json,
    calls: dict[str, Call] | None = None,
    agent: Json | None = None,
    *,
    results: bool = False,
) -> Json:
    """An item as the Responses and Conversations APIs show it. `calls`: the state of the
    calls that runs made, by item id (a client's own calls have none); `results`: show
    file_search results (the client asked with `include`)."""
    kind = item["type"]
    reference = _reference(item.get("agent") or agent)
    if kind == "message":
        view: Json = {
            "type": "message",
            "id": item["id"],
            "status": item.get("status", "completed"),
            "role": item["role"],
            "content": _parts(item),
        }
    elif kind == "function_call" and item.get("tool") == "file_search":
        view = _search_call(item, results)
    elif kind == "function_call" and item.get("tool") == "code_interpreter":
        view = _code_call(item)
    elif kind == "function_call" and item.get("tool") == "mcp":
        view = _mcp_call(item, (calls or {}).get(item["id"]))
    elif kind == "function_call" and item.get("tool") in ("openapi", "connected_agent"):
        view = {
            "type": f"{item['tool']}_call",
            "id": item["id"],
            "call_id": item["call_id"],
            "name": item["name"],
            "arguments": item["arguments"],
            "output": item.get("output"),
            "status": "completed" if "output" in item else "in_progress",
        }
    elif kind in ("mcp_list_tools", "mcp_approval_response"):
        view = {k: v for k, v in item.items() if k not in _PLACES}
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
