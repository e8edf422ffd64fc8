"""Tools Ferry carries out itself, inside the run (file_search now; the tool runtime grows).

The engine offers each to the model as a function; when the model calls one, the engine runs
it at once and records the call with its output for the model (`output`) and its details for
the APIs (`ToolResult.details`), all on the call's one item, in the commit that records the
step. A crash
before that commit loses nothing but the work, which the next lease does again: such tools
must only read.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from ferry.runs.ledger import RunState

__all__ = ["BuiltinTool", "ToolResult"]

Json = dict[str, Any]


@dataclass(frozen=True)
class ToolResult:
    output: str
    """What the model is shown."""
    details: Json = field(default_factory=dict)
    """Kept on the call item for the run steps and response items (e.g. search results)."""


class BuiltinTool(ABC):
    kind: str
    """The tool type it carries out (`file_search`)."""

    @abstractmethod
    async def run(self, state: RunState, tool: Json, arguments: Json) -> ToolResult:
        """Carry out one call; failures the model should hear of are results, not errors."""

    def annotate(self, text: str, items: list[Json]) -> list[Json]:
        """Annotations for the run's message `text`, given the run's own `items` (its calls
        with their details): file_search turns result markers into citations."""
        return []
