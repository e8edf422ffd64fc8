"""Tools as each API writes them, checked when they are given and stored in the core's shape.

Ferry runs `function` tools (the client answers) and `azure_function` tools (a queue carries
the call to a function and its answer back). The classic API nests a function under
`function`; the v2 API writes it flat; `azure_function` is the same in both. Every other
tool type of the real service is refused by name with a 400, never stored and silently
ignored. `ferry.runs.tools` describes the stored shape.
"""

from __future__ import annotations

import re
from typing import Any

from ferry.agents.errors import BadRequest, NotSupported

__all__ = [
    "check_tool_resources",
    "classic_tools",
    "render_classic_tools",
    "render_v2_tools",
    "v2_tools",
]

Json = dict[str, Any]

_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_QUEUE = re.compile(r"[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}")
_SUPPORTED = "Supported tool types: function, azure_function, file_search."
_KNOWN_UNSUPPORTED = {
    "code_interpreter": "it runs code in a sandbox Ferry does not provide yet",
    "bing_grounding": "it calls Bing, which is not available offline",
    "bing_custom_search": "it calls Bing, which is not available offline",
    "bing_custom_search_preview": "it calls Bing, which is not available offline",
    "web_search": "it searches the web, which is not available offline",
    "web_search_preview": "it searches the web, which is not available offline",
    "azure_ai_search": "it needs an Azure AI Search index",
    "sharepoint_grounding": "it needs SharePoint",
    "sharepoint_grounding_preview": "it needs SharePoint",
    "fabric_dataagent": "it needs Microsoft Fabric",
    "fabric_dataagent_preview": "it needs Microsoft Fabric",
    "microsoft_fabric": "it needs Microsoft Fabric",
    "openapi": "OpenAPI tools are not implemented yet",
    "connected_agent": "connected agents are not implemented yet",
    "a2a_preview": "agent-to-agent tools are not implemented",
    "deep_research": "it needs a deep-research model deployment",
    "mcp": "MCP tools are not implemented yet",
    "browser_automation": "it needs a browser service",
    "browser_automation_preview": "it needs a browser service",
    "image_generation": "it needs an image model",
    "computer_use_preview": "it needs a computer-use model and environment",
    "memory_search": "it needs a memory store",
    "memory_search_preview": "it needs a memory store",
    "local_shell": "it runs commands on the client's machine",
    "shell": "it runs commands on the client's machine",
    "custom": "custom tools are not implemented",
}


def _function_fields(function: Any, where: str) -> Json:
    """The name, description, parameters and strictness of a function, checked."""
    if not isinstance(function, dict):
        raise BadRequest(f"{where} must be an object with a name", param=where)
    name = function.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise BadRequest(
            f"{where}.name must be 1-64 letters, digits, '_' or '-'", param=f"{where}.name"
        )
    for key, kind in (("description", str), ("parameters", dict), ("strict", bool)):
        if function.get(key) is not None and not isinstance(function[key], kind):
            raise BadRequest(f"{where}.{key} has the wrong type", param=f"{where}.{key}")
    return {
        "name": name,
        "description": function.get("description"),
        "parameters": function.get("parameters"),
        "strict": function.get("strict"),
    }


def _queue(binding: Any, where: str) -> Json:
    """One side of an `azure_function` tool; the typed SDKs say `queue_service_endpoint`,
    the seed's raw dict says `queue_service_uri`: both are accepted."""
    if not isinstance(binding, dict) or binding.get("type", "storage_queue") != "storage_queue":
        raise BadRequest(f"{where} must be {{'type': 'storage_queue', ...}}", param=where)
    queue = binding.get("storage_queue")
    if not isinstance(queue, dict):
        raise BadRequest(f"{where}.storage_queue must be an object", param=where)
    endpoint = queue.get("queue_service_endpoint") or queue.get("queue_service_uri")
    if not isinstance(endpoint, str) or not re.match(r"https?://[^/\s]+", endpoint):
        raise BadRequest(
            f"{where}.storage_queue.queue_service_endpoint must be an http(s) URL of a queue "
            "service",
            param=where,
        )
    name = queue.get("queue_name")
    if not isinstance(name, str) or not _QUEUE.fullmatch(name):
        raise BadRequest(
            f"{where}.storage_queue.queue_name must be a valid queue name (3-63 lowercase "
            "letters, digits and single hyphens)",
            param=where,
        )
    return {"endpoint": endpoint.rstrip("/"), "queue": name}


def _azure_function(tool: Json, where: str) -> Json:
    body = tool.get("azure_function")
    if not isinstance(body, dict):
        raise BadRequest(f"{where}.azure_function must be an object", param=where)
    where = f"{where}.azure_function"
    return {
        "type": "azure_function",
        **_function_fields(body.get("function"), f"{where}.function"),
        "input": _queue(body.get("input_binding"), f"{where}.input_binding"),
        "output": _queue(body.get("output_binding"), f"{where}.output_binding"),
    }


def _tools(tools: Any, param: str, function: Any) -> list[Json]:
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise BadRequest(f"'{param}' must be an array", param=param)
    if len(tools) > 128:
        raise BadRequest(f"'{param}' has more than 128 tools", param=param)
    checked: list[Json] = []
    names: set[str] = set()
    for index, tool in enumerate(tools):
        where = f"{param}[{index}]"
        if not isinstance(tool, dict) or not isinstance(tool.get("type"), str):
            raise BadRequest(f"{where} must be an object with a 'type'", param=where)
        kind = tool["type"]
        if kind in _KNOWN_UNSUPPORTED:
            raise NotSupported(
                f"{where}: tool type '{kind}' is not supported by Ferry: "
                f"{_KNOWN_UNSUPPORTED[kind]}. {_SUPPORTED}",
                param=where,
            )
        if kind == "function":
            stored = {"type": "function", **function(tool, where)}
        elif kind == "file_search":
            stored = _file_search(tool, where, flat=function is _function_fields)
        elif kind == "azure_function":
            stored = _azure_function(tool, where)
        else:
            raise BadRequest(f"{where}: unknown tool type '{kind[:64]}'. {_SUPPORTED}", param=where)
        if stored["name"] in names:
            raise BadRequest(f"{where}: two tools are named '{stored['name']}'", param=where)
        names.add(stored["name"])
        checked.append(stored)
    return checked


FILE_SEARCH_PARAMETERS: Json = {
    "type": "object",
    "properties": {
        "query": {"type": "string", "description": "What to look for in the files."},
    },
    "required": ["query"],
}
_FILE_SEARCH_DESCRIPTION = (
    "Search the files the user gave for passages relevant to a query; cite what you use by "
    "copying the passage's marker (such as 【0:0†file.md】) into your answer."
)


def _file_search(tool: Json, where: str, *, flat: bool) -> Json:
    """`file_search`: classic options under `file_search`, v2's flat beside the store ids."""
    options = tool if flat else (tool.get("file_search") or {})
    if not isinstance(options, dict):
        raise BadRequest(f"{where}.file_search must be an object", param=where)
    stored: Json = {
        "type": "file_search",
        "name": "file_search",
        "description": _FILE_SEARCH_DESCRIPTION,
        "parameters": FILE_SEARCH_PARAMETERS,
        "strict": None,
    }
    limit = options.get("max_num_results")
    if limit is not None:
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 50:
            raise BadRequest(
                f"{where}.max_num_results must be an integer from 1 to 50", param=where
            )
        stored["max_num_results"] = limit
    ranking = options.get("ranking_options")
    if ranking is not None:
        threshold = ranking.get("score_threshold") if isinstance(ranking, dict) else None
        if (
            not isinstance(ranking, dict)
            or not isinstance(threshold, int | float)
            or isinstance(threshold, bool)
            or not 0 <= threshold <= 1
        ):
            raise BadRequest(
                f"{where}.ranking_options must be {{'ranker': ..., 'score_threshold': 0..1}}",
                param=where,
            )
        stored["ranking_options"] = {
            "ranker": str(ranking.get("ranker") or "auto"),
            "score_threshold": float(threshold),
        }
    if flat:
        ids = tool.get("vector_store_ids")
        if ids is not None and (
            not isinstance(ids, list) or not all(isinstance(i, str) for i in ids)
        ):
            raise BadRequest(f"{where}.vector_store_ids must be an array of ids", param=where)
        stored["vector_store_ids"] = list(ids or [])
    return stored


def classic_tools(tools: Any, param: str = "tools") -> list[Json]:
    """Tools as the classic API writes them (`{"type": "function", "function": {…}}`)."""
    return _tools(tools, param, lambda tool, where: _function_fields(tool.get("function"), where))


def v2_tools(tools: Any, param: str = "tools") -> list[Json]:
    """Tools as the v2 API writes them (`{"type": "function", "name", …}`, flat)."""
    return _tools(tools, param, _function_fields)


def _function_body(tool: Json) -> Json:
    body = {"name": tool["name"], "description": tool.get("description") or ""}
    if tool.get("parameters") is not None:
        body["parameters"] = tool["parameters"]
    if tool.get("strict") is not None:
        body["strict"] = tool["strict"]
    return body


def _binding(side: Json) -> Json:
    return {
        "type": "storage_queue",
        "storage_queue": {"queue_service_endpoint": side["endpoint"], "queue_name": side["queue"]},
    }


def _render_azure_function(tool: Json) -> Json:
    return {
        "type": "azure_function",
        "azure_function": {
            "function": _function_body(tool),
            "input_binding": _binding(tool["input"]),
            "output_binding": _binding(tool["output"]),
        },
    }


def _search_options(tool: Json) -> Json:
    return {key: tool[key] for key in ("max_num_results", "ranking_options") if key in tool}


def render_classic_tools(tools: list[Json]) -> list[Json]:
    rendered = []
    for tool in tools:
        if tool["type"] == "function":
            rendered.append({"type": "function", "function": _function_body(tool)})
        elif tool["type"] == "file_search":
            options = _search_options(tool)
            rendered.append(
                {"type": "file_search", **({"file_search": options} if options else {})}
            )
        else:
            rendered.append(_render_azure_function(tool))
    return rendered


def render_v2_tools(tools: list[Json]) -> list[Json]:
    rendered = []
    for tool in tools:
        if tool["type"] == "function":
            rendered.append(
                {"type": "function", **_function_body(tool), "strict": tool.get("strict")}
            )
        elif tool["type"] == "file_search":
            rendered.append(
                {
                    "type": "file_search",
                    "vector_store_ids": tool.get("vector_store_ids") or [],
                    **_search_options(tool),
                }
            )
        else:
            rendered.append(_render_azure_function(tool))
    return rendered


def check_tool_resources(resources: Any) -> Json:
    """`tool_resources`: the vector stores file_search looks in (`file_search.
    vector_store_ids`, at most one, as the service allows). Other resources (code
    interpreter files, Azure AI Search indexes) are refused until their tools exist."""
    if resources is None or resources == {}:
        return {}
    if not isinstance(resources, dict):
        raise BadRequest("'tool_resources' must be an object", param="tool_resources")
    checked: Json = {}
    for key, value in resources.items():
        if not value:
            continue
        where = f"tool_resources.{key}"
        if key != "file_search":
            raise NotSupported(
                f"{where} is not supported by Ferry yet (only file_search resources are)",
                param=where,
            )
        if not isinstance(value, dict):
            raise BadRequest(f"{where} must be an object", param=where)
        if value.get("vector_stores"):
            raise NotSupported(
                f"{where}.vector_stores (stores made with the thread) is not supported; "
                "create the vector store first and pass vector_store_ids",
                param=where,
            )
        ids = value.get("vector_store_ids") or []
        if not isinstance(ids, list) or not all(isinstance(i, str) and i for i in ids):
            raise BadRequest(f"{where}.vector_store_ids must be an array of ids", param=where)
        if len(ids) > 1:
            raise BadRequest(
                f"{where}.vector_store_ids may name at most one vector store", param=where
            )
        checked["file_search"] = {"vector_store_ids": list(ids)}
    return checked
