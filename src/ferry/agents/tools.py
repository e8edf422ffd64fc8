"""Which tools an agent or run may carry, checked when they are given.

Ferry runs `function` tools (the client answers) and `azure_function` tools (a queue carries
the call to a function and its answer back). Every other tool type of the real service is
refused by name with a 400, never stored and silently ignored.
"""

from __future__ import annotations

import re
from typing import Any

from ferry.agents.errors import BadRequest, NotSupported

__all__ = ["QueueBinding", "check_tool_resources", "check_tools", "queue_binding"]

Json = dict[str, Any]

_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_QUEUE = re.compile(r"[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}")
_KNOWN_UNSUPPORTED = {
    "code_interpreter": "it runs code in a sandbox Ferry does not provide",
    "file_search": "it needs files and vector stores, which Ferry does not store",
    "bing_grounding": "it calls Bing, which is not available offline",
    "bing_custom_search": "it calls Bing, which is not available offline",
    "azure_ai_search": "it needs an Azure AI Search index",
    "sharepoint_grounding": "it needs SharePoint",
    "fabric_dataagent": "it needs Microsoft Fabric",
    "microsoft_fabric": "it needs Microsoft Fabric",
    "openapi": "OpenAPI tools are not implemented",
    "connected_agent": "connected agents are not implemented",
    "deep_research": "it needs a deep-research model deployment",
    "mcp": "MCP tools are not implemented",
    "browser_automation": "it needs a browser service",
}


def _function(tool: Json, where: str) -> Json:
    function = tool.get("function")
    if not isinstance(function, dict):
        raise BadRequest(f"{where}.function must be an object with a name", param=where)
    name = function.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise BadRequest(
            f"{where}.function.name must be 1-64 letters, digits, '_' or '-'",
            param=f"{where}.function.name",
        )
    for key, kind in (("description", str), ("parameters", dict)):
        if key in function and function[key] is not None and not isinstance(function[key], kind):
            raise BadRequest(f"{where}.function.{key} has the wrong type", param=where)
    return function


class QueueBinding:
    """One side (input or output) of an `azure_function` tool: a queue on a service."""

    def __init__(self, endpoint: str, queue: str) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.queue = queue

    @property
    def url(self) -> str:
        return f"{self.endpoint}/{self.queue}"


def queue_binding(binding: Any, where: str) -> QueueBinding:
    """The queue of a binding; the typed SDKs say `queue_service_endpoint`, the seed's raw
    dict says `queue_service_uri`: both are accepted."""
    if not isinstance(binding, dict) or binding.get("type") != "storage_queue":
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
    return QueueBinding(endpoint, name)


def check_tools(tools: Any, param: str = "tools") -> list[Json]:
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise BadRequest(f"'{param}' must be an array", param=param)
    if len(tools) > 128:
        raise BadRequest(f"'{param}' has more than 128 tools", param=param)
    names: set[str] = set()
    for index, tool in enumerate(tools):
        where = f"{param}[{index}]"
        if not isinstance(tool, dict) or not isinstance(tool.get("type"), str):
            raise BadRequest(f"{where} must be an object with a 'type'", param=where)
        kind = tool["type"]
        if kind in _KNOWN_UNSUPPORTED:
            raise NotSupported(
                f"{where}: tool type '{kind}' is not supported by Ferry: "
                f"{_KNOWN_UNSUPPORTED[kind]}. Supported tool types: function, azure_function.",
                param=where,
            )
        if kind == "function":
            name = _function(tool, where)["name"]
        elif kind == "azure_function":
            body = tool.get("azure_function")
            if not isinstance(body, dict):
                raise BadRequest(f"{where}.azure_function must be an object", param=where)
            name = _function(body, f"{where}.azure_function")["name"]
            queue_binding(body.get("input_binding"), f"{where}.azure_function.input_binding")
            queue_binding(body.get("output_binding"), f"{where}.azure_function.output_binding")
        else:
            raise BadRequest(
                f"{where}: unknown tool type '{kind}'. Supported tool types: function, "
                "azure_function.",
                param=where,
            )
        if name in names:
            raise BadRequest(f"{where}: two tools are named '{name}'", param=where)
        names.add(name)
    return tools


def check_tool_resources(resources: Any) -> Json:
    """Tool resources hold files and vector stores, which Ferry does not keep."""
    if resources is None or resources == {}:
        return {}
    if not isinstance(resources, dict):
        raise BadRequest("'tool_resources' must be an object", param="tool_resources")
    if any(value for value in resources.values()):
        raise NotSupported(
            "tool_resources (files, vector stores) are not supported by Ferry",
            param="tool_resources",
        )
    return {}
