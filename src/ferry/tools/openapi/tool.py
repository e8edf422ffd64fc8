"""The `openapi` tool in the run: one function per operation of the agent's spec, each call
one HTTP request (`ferry.tools.openapi.client` reads specs and makes the requests).

Auth: `anonymous`; `connection` and v2's `project_connection` (the key of the connection the
tool names, from `FERRY_CONNECTION_<NAME>`: `ferry.tools.connections`);
`managed_identity` (a token of Ferry's own identity service for the audience, the one apps on
this Ferry get from its managed-identity endpoint).
"""

from __future__ import annotations

from collections.abc import Callable

from ferry.runs.builtin import BuiltinTool, Expansion, FunctionSpec, ToolResult
from ferry.runs.ledger import RunState
from ferry.tools.connections import ConnectionMissing, connection_key
from ferry.tools.errors import OpenApiError
from ferry.tools.openapi.client import (
    OpenApiCaller,
    Operation,
    auth_from_tool,
    parse_spec,
)
from ferry.types import Json

__all__ = ["OpenApiTools"]


async def _connection_secret(connection_id: str) -> str:
    try:
        return connection_key(connection_id)
    except ConnectionMissing as exc:
        raise OpenApiError(str(exc)) from None


def _auth(auth: Json | None) -> Json | None:
    """v2's `project_connection` auth is a `connection` by another name."""
    if auth and auth.get("type") == "project_connection":
        scheme = auth.get("security_scheme") or {}
        connection = {"connection_id": scheme.get("project_connection_id")}
        return {"type": "connection", "security_scheme": connection}
    return auth


class OpenApiTools(BuiltinTool):
    kind = "openapi"
    acts = True

    def __init__(
        self,
        *,
        timeout: float = 30.0,
        max_response_bytes: int = 1_000_000,
        identity: Callable[[str], str] | None = None,
    ) -> None:
        self.call_timeout = timeout
        self.max_response_bytes = max_response_bytes
        self.identity = identity
        """Audience → a token of Ferry's identity service (managed_identity auth)."""

    def timeout(self, tool: Json) -> float:
        return self.call_timeout + 5.0

    @staticmethod
    def _operations(tool: Json) -> list[Operation]:
        return parse_spec(
            tool["name"], tool["spec"], default_params=tool.get("default_params") or ()
        )

    async def expand(self, state: RunState, tool: Json) -> Expansion:
        functions = [
            FunctionSpec(op.name, op.description, op.parameters, target=op.name)
            for op in self._operations(tool)
        ]
        return Expansion(functions)

    def call_details(self, tool: Json) -> Json:
        return {"openapi": tool["name"], "target": tool.get("target") or ""}

    async def _token(self, audience: str) -> str:
        if self.identity is None:
            raise OpenApiError("managed identity tokens are not available in this process")
        return self.identity(audience)

    async def run(self, state: RunState, tool: Json, arguments: Json) -> ToolResult:
        details = self.call_details(tool)
        try:
            operations = self._operations(tool)
            operation = next((op for op in operations if op.name == tool.get("target")), None)
            if operation is None:
                raise OpenApiError(f"the spec has no operation '{tool.get('target')}'")
            auth = await auth_from_tool(
                _auth(tool.get("auth")),
                operations,
                connection_secret=_connection_secret,
                identity_token=self._token,
            )
        except OpenApiError as exc:
            message = str(exc)
            details["error"] = {"code": "openapi_error", "message": message}
            return ToolResult(f"Error: {message}", details)
        async with OpenApiCaller(
            timeout=self.call_timeout, max_response_bytes=self.max_response_bytes
        ) as caller:
            result = await caller.call(operation, arguments, auth)
        details["status"] = result.status
        if result.is_error:
            details["error"] = {"code": "http_error", "message": result.output[:2000]}
        return ToolResult(result.output, details)
