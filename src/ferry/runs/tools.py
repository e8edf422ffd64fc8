"""Tools in the core's shape, and what the engine needs of them.

Both APIs check a tool when it is given and store it flat: `{"type", "name", "description",
"parameters", "strict"}`, and for `azure_function` also `input` and `output`, each
`{"endpoint", "queue"}` (`ferry.agents.tools` reads and writes each API's wire shape).
"""

from __future__ import annotations

from dataclasses import dataclass

from ferry.models.backend import ToolSpec
from ferry.types import Json

__all__ = ["QueueBinding", "binding_of", "tool_specs"]

EMPTY_PARAMETERS: Json = {"type": "object", "properties": {}}


@dataclass(frozen=True)
class QueueBinding:
    """One side (input or output) of an `azure_function` tool: a queue on a service."""

    endpoint: str
    queue: str

    @property
    def url(self) -> str:
        return f"{self.endpoint}/{self.queue}"


def binding_of(tool: Json, side: str) -> QueueBinding:
    """`side` is "input" or "output"."""
    binding = tool[side]
    return QueueBinding(binding["endpoint"].rstrip("/"), binding["queue"])


def tool_specs(run: Json) -> dict[str, tuple[Json, ToolSpec]]:
    """Function name → (the tool, what the model is told about it). A tool the run expanded
    when it started (`run["expanded"]`, by the tool's index: an MCP server's tools, an OpenAPI
    spec's operations) offers its functions instead, each with its `target`."""
    expanded = run.get("expanded") or {}
    specs: dict[str, tuple[Json, ToolSpec]] = {}
    for index, tool in enumerate(run.get("tools") or []):
        functions = expanded.get(str(index))
        if functions is None:
            functions = [{**tool, "target": None}]
        for function in functions:
            specs[function["name"]] = (
                {**tool, "target": function.get("target")},
                ToolSpec(
                    name=function["name"],
                    description=function.get("description") or "",
                    parameters=function.get("parameters") or EMPTY_PARAMETERS,
                ),
            )
    return specs
