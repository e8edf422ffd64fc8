"""The `mcp` tool: an MCP server's tools, offered to the model as functions.

When a run starts, Ferry lists the server's tools (v2 shows the list as an `mcp_list_tools`
item) and offers those the agent allows. A call waits for the user's approval when
`require_approval` says so (`always` by default, as on the service): a classic run goes to
`requires_action` with `submit_tool_approval`, a v2 response ends with an
`mcp_approval_request` that the next response answers. A refused call is told to the model
and never sent. The server's errors, and a server that cannot be reached or takes longer
than the tool's timeout, are told to the model as the call's result: they do not fail the run.
"""

from __future__ import annotations

import re
from typing import Any

from ferry.runs.builtin import BuiltinTool, Expansion, FunctionSpec, ToolResult
from ferry.runs.ledger import RunState
from ferry.tools.connections import ConnectionMissing, connection_key
from ferry.tools.errors import McpError, McpUnavailable
from ferry.tools.mcp.client import McpClient, McpToolInfo
from ferry.types import Json

__all__ = ["McpTools", "needs_approval"]

_NAME = re.compile(r"[^A-Za-z0-9_-]")


def needs_approval(policy: Any, name: str) -> bool:
    """`require_approval`: "always" (the default), "never", or per tool:
    `{"always": {"tool_names": [...]}, "never": {"tool_names": [...]}}` (a tool named in
    neither needs approval)."""
    if policy is None or policy == "always":
        return True
    if policy == "never":
        return False
    if isinstance(policy, dict):
        never = (policy.get("never") or {}).get("tool_names") or []
        always = (policy.get("always") or {}).get("tool_names") or []
        if name in always:
            return True
        return name not in never
    return True


def _function_name(label: str, name: str, taken: set[str]) -> str:
    """The tool's own name when it is free, else prefixed with the server's label (a
    model's function names are one namespace across servers)."""
    plain = _NAME.sub("_", name)[:64]
    if plain not in taken:
        return plain
    return _NAME.sub("_", f"{label}_{name}")[:64]


def _listed_before(state: RunState, label: str) -> list[McpToolInfo] | None:
    """The server's tools as a v2 response's context already lists them (as the Responses
    API does, the list is not asked for again while an earlier one is in context)."""
    if state.api == "classic":
        return None
    for item in reversed(state.context):
        if item["type"] == "mcp_list_tools" and item.get("server_label") == label:
            if item.get("error"):
                return None
            return [
                McpToolInfo(t["name"], t["description"], t["input_schema"], t.get("annotations"))
                for t in item.get("tools") or []
            ]
    return None


class McpTools(BuiltinTool):
    kind = "mcp"
    acts = True

    def __init__(self, *, timeout: float = 60.0) -> None:
        self.default_timeout = timeout

    def _client(self, tool: Json) -> McpClient:
        """A client for the tool's server; a project connection's key goes as a bearer
        token unless the headers give Authorization themselves."""
        headers = dict(tool.get("headers") or {})
        if tool.get("connection") and not any(k.lower() == "authorization" for k in headers):
            try:
                headers["Authorization"] = f"Bearer {connection_key(tool['connection'])}"
            except ConnectionMissing as exc:
                raise McpUnavailable(str(exc)) from None
        return McpClient(tool["server_url"], headers=headers, timeout=self.timeout(tool))

    def timeout(self, tool: Json) -> float:
        return float(tool.get("timeout") or self.default_timeout)

    def call_details(self, tool: Json) -> Json:
        return {"server_label": tool["server_label"], "target": tool.get("target") or ""}

    def needs_approval(self, tool: Json, target: str | None) -> bool:
        return needs_approval(tool.get("require_approval"), target or "")

    async def expand(self, state: RunState, tool: Json) -> Expansion:
        label = tool["server_label"]
        item: Json = {"type": "mcp_list_tools", "server_label": label, "tools": [], "error": None}
        listed = _listed_before(state, label)
        reused = listed is not None  # a list the context already shows is not shown again
        if listed is None:
            try:
                listed = await self._client(tool).list_tools()
            except McpError as exc:
                # The run goes on without the server's tools; the item and timeline say why.
                item["error"] = {"code": "mcp_unavailable", "message": str(exc)}
                return Expansion([], [item])

        allowed = tool.get("allowed_tools")
        taken = {t["name"] for t in state.run.get("tools") or [] if t["type"] != "mcp"}
        functions = []
        for found in listed:
            if allowed and found.name not in allowed:
                continue
            name = _function_name(label, found.name, taken)
            taken.add(name)
            functions.append(
                FunctionSpec(name, found.description, found.input_schema, target=found.name)
            )
            item["tools"].append(
                {
                    "name": found.name,
                    "description": found.description,
                    "input_schema": found.input_schema,
                    "annotations": found.annotations,
                }
            )
        return Expansion(functions, [] if reused else [item])

    async def run(self, state: RunState, tool: Json, arguments: Json) -> ToolResult:
        target = tool.get("target") or ""
        details: Json = self.call_details(tool)
        try:
            result = await self._client(tool).call_tool(target, arguments)
        except McpError as exc:
            details["error"] = {"code": "mcp_error", "message": str(exc)}
            return ToolResult(f"Error: {exc}", details)
        if result.is_error:
            details["error"] = {"code": "mcp_tool_error", "message": result.output}
            return ToolResult(f"Error: {result.output}", details)
        return ToolResult(result.output, details)
