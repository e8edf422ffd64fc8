"""Tools as each API writes them, checked when they are given and stored in the core's shape.

Ferry runs `function` tools (the client answers) and `azure_function` tools (a queue carries
the call to a function and its answer back). The classic API nests a function under
`function`; the v2 API writes it flat; `azure_function` is the same in both. Every other
tool type of the real service is refused by name with a 400, never stored and silently
ignored. `ferry.runs.tools` describes the stored shape.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ferry.agents.errors import BadRequest, NotSupported
from ferry.tools.code.spec import CODE_DESCRIPTION, CODE_PARAMETERS
from ferry.tools.connected import CONNECTED_PARAMETERS
from ferry.tools.errors import OpenApiError
from ferry.tools.openapi.client import parse_spec
from ferry.types import Json

__all__ = [
    "check_tool_resources",
    "with_mcp_resources",
    "classic_tools",
    "render_classic_tools",
    "render_v2_tools",
    "v2_tools",
]

_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_QUEUE = re.compile(r"[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}")
_SUPPORTED = "Supported tool types: function, azure_function, file_search, code_interpreter, mcp."
_LABEL = re.compile(r"[A-Za-z0-9_-]{1,64}")
_KNOWN_UNSUPPORTED = {
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
    "a2a_preview": "agent-to-agent tools are not implemented",
    "deep_research": "it needs a deep-research model deployment",
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


def _one_tool(kind: str, tool: Json, where: str, function: Any) -> Json:
    if kind == "function":
        return {"type": "function", **function(tool, where)}
    if kind == "file_search":
        return _file_search(tool, where, flat=function is _function_fields)
    parser = _PARSERS.get(kind)
    if parser is None:
        raise BadRequest(f"{where}: unknown tool type '{kind[:64]}'. {_SUPPORTED}", param=where)
    return parser(tool, where)


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
        stored = _one_tool(kind, tool, where, function)
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


def _file_ids(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(i, str) and i for i in value):
        raise BadRequest(f"{where} must be an array of file ids", param=where)
    if len(value) > 20:
        raise BadRequest(f"{where} may name at most 20 files", param=where)
    return list(value)


def _code_interpreter(tool: Json, where: str) -> Json:
    """`code_interpreter`, offered to the model as a function taking `code`. v2 writes the
    session's files under `container` (`{"type": "auto", "file_ids": [...]}`); a container
    id of the real service's own is refused."""
    stored: Json = {
        "type": "code_interpreter",
        "name": "code_interpreter",
        "description": CODE_DESCRIPTION,
        "parameters": CODE_PARAMETERS,
        "strict": None,
    }
    container = tool.get("container")
    if container is None:
        return stored
    if isinstance(container, str):
        raise NotSupported(
            f"{where}.container: named containers are not supported; use "
            "{'type': 'auto', 'file_ids': [...]}",
            param=f"{where}.container",
        )
    if not isinstance(container, dict) or container.get("type", "auto") != "auto":
        raise BadRequest(
            f"{where}.container must be {{'type': 'auto', 'file_ids': [...]}}",
            param=f"{where}.container",
        )
    stored["file_ids"] = _file_ids(container.get("file_ids"), f"{where}.container.file_ids")
    return stored


def _approval(policy: Any, where: str) -> Any:
    if policy is None or policy in ("always", "never"):
        return policy or "always"
    if isinstance(policy, dict) and set(policy) <= {"always", "never"}:
        checked: Json = {}
        for key, value in policy.items():
            names = value.get("tool_names") if isinstance(value, dict) else None
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise BadRequest(
                    f"{where}.require_approval.{key} must be {{'tool_names': [...]}}",
                    param=f"{where}.require_approval",
                )
            checked[key] = {"tool_names": list(names)}
        return checked
    raise BadRequest(
        f"{where}.require_approval must be 'always', 'never' or "
        "{'always': {'tool_names': [...]}, 'never': {'tool_names': [...]}}",
        param=f"{where}.require_approval",
    )


def _headers(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise BadRequest(f"{where} must be an object of strings", param=where)
    return dict(value)


def _mcp(tool: Json, where: str) -> Json:
    """`mcp`: a server by URL, the tools it may offer, headers and the approval policy
    (classic runs may give headers and the policy in `tool_resources.mcp`). `timeout`
    (seconds) is Ferry's own addition: how long listing or one call may take."""
    label = tool.get("server_label")
    if not isinstance(label, str) or not _LABEL.fullmatch(label):
        raise BadRequest(
            f"{where}.server_label must be 1-64 letters, digits, '_' or '-'",
            param=f"{where}.server_label",
        )
    url = tool.get("server_url")
    if not isinstance(url, str) or not re.match(r"https?://[^/\s]+", url):
        for other in ("connector_id", "tunnel_id"):
            if tool.get(other):
                raise NotSupported(
                    f"{where}.{other}: MCP servers reached through the service's connectors "
                    "or tunnels are not supported; give server_url",
                    param=f"{where}.{other}",
                )
        raise BadRequest(
            f"{where}.server_url must be the http(s) URL of an MCP server",
            param=f"{where}.server_url",
        )
    allowed = tool.get("allowed_tools")
    if isinstance(allowed, dict):
        allowed = allowed.get("tool_names")
    if allowed is not None and (
        not isinstance(allowed, list) or not all(isinstance(n, str) for n in allowed)
    ):
        raise BadRequest(
            f"{where}.allowed_tools must be an array of tool names",
            param=f"{where}.allowed_tools",
        )
    timeout = tool.get("timeout")
    if timeout is not None and (
        not isinstance(timeout, int | float) or isinstance(timeout, bool) or not 0 < timeout <= 3600
    ):
        raise BadRequest(
            f"{where}.timeout must be a number of seconds from 0 to 3600",
            param=f"{where}.timeout",
        )
    stored: Json = {
        "type": "mcp",
        "name": label,
        "description": tool.get("server_description") or "",
        "parameters": None,
        "strict": None,
        "server_label": label,
        "server_url": url,
        "allowed_tools": list(allowed) if allowed else None,
        "headers": _headers(tool.get("headers"), f"{where}.headers"),
        "require_approval": _approval(tool.get("require_approval"), where),
    }
    if timeout is not None:
        stored["timeout"] = float(timeout)
    connection = tool.get("project_connection_id")
    if connection is not None:
        if not isinstance(connection, str) or not connection:
            raise BadRequest(
                f"{where}.project_connection_id must be a connection's id",
                param=f"{where}.project_connection_id",
            )
        stored["connection"] = connection
    return stored


def _openapi(tool: Json, where: str) -> Json:
    """`openapi`: a spec whose operations become the model's functions, checked now (a spec
    Ferry cannot call is refused when it is given, not when a run starts)."""
    body = tool.get("openapi")
    if not isinstance(body, dict):
        raise BadRequest(f"{where}.openapi must be an object", param=f"{where}.openapi")
    where = f"{where}.openapi"
    name = body.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise BadRequest(
            f"{where}.name must be 1-64 letters, digits, '_' or '-'", param=f"{where}.name"
        )
    defaults = body.get("default_params") or []
    if not isinstance(defaults, list) or not all(isinstance(d, str) for d in defaults):
        raise BadRequest(f"{where}.default_params must be an array of names", param=where)
    try:
        parse_spec(name, body.get("spec"), default_params=defaults)
    except OpenApiError as exc:
        raise BadRequest(f"{where}.spec: {exc}", param=f"{where}.spec") from None
    auth = body.get("auth") or {"type": "anonymous"}
    if not isinstance(auth, dict) or auth.get("type") not in (
        "anonymous",
        "connection",
        "project_connection",
        "managed_identity",
    ):
        raise BadRequest(
            f"{where}.auth.type must be anonymous, connection, project_connection or "
            "managed_identity",
            param=f"{where}.auth",
        )
    return {
        "type": "openapi",
        "name": name,
        "description": body.get("description") or "",
        "parameters": None,
        "strict": None,
        "spec": body["spec"],
        "auth": auth,
        "default_params": list(defaults),
    }


def _connected_agent(tool: Json, where: str) -> Json:
    """`connected_agent`: another agent (by id) the model hands tasks to, by name."""
    body = tool.get("connected_agent")
    if not isinstance(body, dict):
        raise BadRequest(f"{where}.connected_agent must be an object", param=where)
    where = f"{where}.connected_agent"
    agent_id, name = body.get("id"), body.get("name")
    if not isinstance(agent_id, str) or not agent_id:
        raise BadRequest(f"{where}.id must be an agent's id", param=f"{where}.id")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise BadRequest(
            f"{where}.name must be 1-64 letters, digits, '_' or '-'", param=f"{where}.name"
        )
    description = body.get("description")
    if not isinstance(description, str) or not description:
        raise BadRequest(
            f"{where}.description must say what the agent does", param=f"{where}.description"
        )
    return {
        "type": "connected_agent",
        "name": name,
        "description": description,
        "parameters": CONNECTED_PARAMETERS,
        "strict": None,
        "agent_id": agent_id,
    }


_PARSERS: dict[str, Callable[[Json, str], Json]] = {
    "connected_agent": _connected_agent,
    "azure_function": _azure_function,
    "code_interpreter": _code_interpreter,
    "mcp": _mcp,
    "openapi": _openapi,
}


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


def _render_connected(tool: Json) -> Json:
    body = {"id": tool["agent_id"], "name": tool["name"], "description": tool["description"]}
    return {"type": "connected_agent", "connected_agent": body}


def _render_openapi(tool: Json) -> Json:
    body = {key: tool[key] for key in ("name", "description", "spec", "auth")}
    if tool.get("default_params"):
        body["default_params"] = tool["default_params"]
    return {"type": "openapi", "openapi": body}


def _render_mcp(tool: Json, *, classic: bool) -> Json:
    """The classic definition holds the server and its allowed tools (headers and the
    approval policy are the run's resources there); v2's, all of it."""
    rendered: Json = {
        "type": "mcp",
        "server_label": tool["server_label"],
        "server_url": tool["server_url"],
        "allowed_tools": tool.get("allowed_tools") or [],
    }
    if not classic:
        rendered["headers"] = tool.get("headers") or {}
        rendered["require_approval"] = tool.get("require_approval") or "always"
        if tool.get("connection"):
            rendered["project_connection_id"] = tool["connection"]
        if tool.get("description"):
            rendered["server_description"] = tool["description"]
    return rendered


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
        elif tool["type"] == "code_interpreter":
            rendered.append({"type": "code_interpreter"})
        elif tool["type"] == "mcp":
            rendered.append(_render_mcp(tool, classic=True))
        elif tool["type"] == "openapi":
            rendered.append(_render_openapi(tool))
        elif tool["type"] == "connected_agent":
            rendered.append(_render_connected(tool))
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
        elif tool["type"] == "code_interpreter":
            container = {"type": "auto", "file_ids": tool.get("file_ids") or []}
            rendered.append({"type": "code_interpreter", "container": container})
        elif tool["type"] == "mcp":
            rendered.append(_render_mcp(tool, classic=False))
        elif tool["type"] == "openapi":
            rendered.append(_render_openapi(tool))
        elif tool["type"] == "connected_agent":
            rendered.append(_render_connected(tool))
        else:
            rendered.append(_render_azure_function(tool))
    return rendered


def _mcp_resources(value: Any, where: str) -> list[Json]:
    """`tool_resources.mcp`: per server label, the headers and approval policy a classic
    run's MCP calls use."""
    if not isinstance(value, list):
        raise BadRequest(f"{where} must be an array", param=where)
    checked = []
    for index, entry in enumerate(value):
        here = f"{where}[{index}]"
        label = entry.get("server_label") if isinstance(entry, dict) else None
        if not isinstance(label, str) or not _LABEL.fullmatch(label):
            raise BadRequest(f"{here}.server_label must name an MCP tool", param=here)
        resource: Json = {"server_label": label}
        if entry.get("headers") is not None:
            resource["headers"] = _headers(entry["headers"], f"{here}.headers")
        if entry.get("require_approval") is not None:
            resource["require_approval"] = _approval(entry["require_approval"], here)
        checked.append(resource)
    return checked


def with_mcp_resources(tools: list[Json], *resources: Json) -> list[Json]:
    """`tools` with each MCP server's headers and approval policy from the first of
    `resources` (the run's, then the agent's `tool_resources`) that names its label."""
    found: dict[str, Json] = {}
    for owner in reversed(resources):
        for entry in (owner or {}).get("mcp") or []:
            earlier = found.get(entry["server_label"], {})
            combined = {**earlier, **entry}
            if "headers" in earlier and "headers" in entry:
                combined["headers"] = {**earlier["headers"], **entry["headers"]}
            found[entry["server_label"]] = combined
    merged = []
    for tool in tools:
        entry = found.get(tool.get("server_label") or "") if tool["type"] == "mcp" else None
        if entry is not None:
            tool = {**tool}
            if "headers" in entry:
                tool["headers"] = {**(tool.get("headers") or {}), **entry["headers"]}
            if "require_approval" in entry:
                tool["require_approval"] = entry["require_approval"]
        merged.append(tool)
    return merged


def check_tool_resources(resources: Any) -> Json:
    """`tool_resources`: the vector stores file_search looks in (`file_search.
    vector_store_ids`, at most one, as the service allows) and the files code_interpreter's
    session holds (`code_interpreter.file_ids`, at most 20). Azure AI Search indexes are
    refused."""
    if resources is None or resources == {}:
        return {}
    if not isinstance(resources, dict):
        raise BadRequest("'tool_resources' must be an object", param="tool_resources")
    checked: Json = {}
    for key, value in resources.items():
        if not value:
            continue
        where = f"tool_resources.{key}"
        if key == "mcp":
            checked[key] = _mcp_resources(value, where)
            continue
        if key not in ("file_search", "code_interpreter"):
            raise NotSupported(
                f"{where} is not supported by Ferry (file_search, code_interpreter and mcp "
                "resources are)",
                param=where,
            )
        if not isinstance(value, dict):
            raise BadRequest(f"{where} must be an object", param=where)
        if key == "code_interpreter":
            checked[key] = {"file_ids": _file_ids(value.get("file_ids"), f"{where}.file_ids")}
            continue
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
