"""Tools Ferry carries out itself, inside the run: the tool runtime's one interface.

The engine offers each to the model as functions; when the model calls one, the engine
carries it out and keeps the call's output for the model (`output`) and its details for the
APIs (`ToolResult.details`) on the call's one item.

Two kinds, by what a call may touch:
- tools that only read Ferry's own data (file_search) run at once and are recorded with their
  output in the commit that records the step: a crash before that commit loses only work the
  next lease does again;
- tools that act (`acts`: code, MCP servers, HTTP APIs, other agents) are recorded first, as
  pending calls with a deadline, in a commit of their own; only then are they carried out,
  and their outputs are stored in the next commit. A call found recorded but never finished
  (its worker died) is not made again: the model is told it was interrupted (`interrupted`).
  Such a call may wait for the user's approval first (`needs_approval`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from ferry.runs.ledger import RunState
from ferry.types import Json

__all__ = ["BuiltinTool", "Expansion", "FunctionSpec", "ToolResult"]


@dataclass(frozen=True)
class ToolResult:
    output: str
    """What the model is shown."""
    details: Json = field(default_factory=dict)
    """Kept on the call item for the run steps and response items (e.g. search results)."""


@dataclass(frozen=True)
class FunctionSpec:
    """One function a tool offers the model; `target` names what it calls inside the tool
    (an MCP server's tool, an OpenAPI operation)."""

    name: str
    description: str
    parameters: Json
    target: str | None = None

    def record(self) -> Json:
        return {
            "name": self.name,
            "description": self.description,
            "parameters": self.parameters,
            "target": self.target,
        }


@dataclass(frozen=True)
class Expansion:
    """What a tool offers for one run, found when the run starts (an MCP server's list)."""

    functions: list[FunctionSpec]
    items: list[Json] = field(default_factory=list)
    """Items the run shows for it (v2's `mcp_list_tools`)."""


class BuiltinTool(ABC):
    kind: str
    """The tool type it carries out (`file_search`)."""
    acts: bool = False
    """Whether a call has effects outside Ferry's store (recorded before it starts)."""

    @abstractmethod
    async def run(self, state: RunState, tool: Json, arguments: Json) -> ToolResult:
        """Carry out one call; failures the model should hear of are results, not errors.
        `tool` is the stored tool, with `target` for a function of an expanded tool."""

    async def expand(self, state: RunState, tool: Json) -> Expansion | None:
        """The functions this tool offers the run, when not the one its record describes
        (None). Called once, when the run starts."""
        return None

    def timeout(self, tool: Json) -> float:
        """Seconds a call may take (tools that act)."""
        return 300.0

    def needs_approval(self, tool: Json, target: str | None) -> bool:
        """Whether a call waits for the user's approval before it is made."""
        return False

    def call_details(self, tool: Json) -> Json:
        """What a call's item says of it from the start (an MCP server's label and the
        tool it calls there), before any result."""
        return {}

    def interrupted(self, state: RunState, tool: Json, arguments: Json) -> ToolResult:
        """The result of a call whose worker stopped while it ran."""
        return ToolResult(
            "Ferry stopped while this call was being carried out; it may or may not have "
            "taken effect, and its result is lost.",
            {"error": {"code": "interrupted", "message": "the worker stopped during the call"}},
        )

    def refused(self, tool: Json, arguments: Json) -> ToolResult:
        """The result of a call the user did not approve (it was not made)."""
        return ToolResult(
            "The user did not approve this call, so it was not made.",
            {"error": {"code": "not_approved", "message": "the user refused the call"}},
        )

    def annotate(self, text: str, items: list[Json]) -> list[Json]:
        """Annotations for the run's message `text`, given the run's own `items` (its calls
        with their details): file_search turns result markers into citations."""
        return []

    def contents(self, items: list[Json]) -> list[Json]:
        """Parts the run's message carries besides its text, given the run's own `items`
        (code_interpreter's images, as `image_file` parts)."""
        return []
