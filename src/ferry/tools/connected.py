"""The `connected_agent` tool: the model hands a task to another agent, whose answer is the
call's result.

A call starts a run of the connected agent on a thread of its own (the task as its one user
message), waits for it to end, and returns its last answer. Both runs are ordinary runs: the
child's thread and run are listed, streamed and shown in `ferry runs show` like any other,
and its metadata names the parent run. A client's cancel of the parent cancels the child; a
chain of connected agents deeper than `max_depth` is refused, so agents that name each other
cannot loop for ever.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Protocol

from ferry.runs.builtin import BuiltinTool, ToolResult
from ferry.runs.ledger import RunState
from ferry.types import Json

__all__ = [
    "CONNECTED_PARAMETERS",
    "DEPTH_KEY",
    "PARENT_KEY",
    "ChildRun",
    "ConnectedAgents",
    "SubRuns",
]

CONNECTED_PARAMETERS: Json = {
    "type": "object",
    "properties": {
        "input": {
            "type": "string",
            "description": "The task for the agent, with everything it needs to know.",
        }
    },
    "required": ["input"],
}
PARENT_KEY = "ferry.parent_run"
DEPTH_KEY = "ferry.depth"
"""Metadata keys a child run carries: the run that started it, and how deep it is."""


@dataclass(frozen=True)
class ChildRun:
    thread_id: str
    run_id: str
    status: str
    answer: str | None = None
    error: str | None = None


class SubRuns(Protocol):
    """What the agents API offers the tool: start, read and cancel a run of an agent."""

    async def start(
        self, project: str, agent_id: str, task: str, metadata: dict[str, str]
    ) -> ChildRun: ...

    async def read(self, project: str, child: ChildRun) -> ChildRun: ...

    async def cancel(self, project: str, child: ChildRun) -> None: ...


_ENDED = ("completed", "failed", "cancelled", "expired", "incomplete")


class ConnectedAgents(BuiltinTool):
    kind = "connected_agent"
    acts = True

    def __init__(
        self,
        runs: SubRuns | None = None,
        *,
        max_depth: int = 3,
        timeout: float = 600.0,
        poll: float = 0.25,
    ) -> None:
        self.runs = runs
        self.max_depth = max_depth
        self.call_timeout = timeout
        self.poll = poll

    def bind(self, runs: SubRuns) -> None:
        """The agents API is built after the engine that carries out its tools."""
        self.runs = runs

    def timeout(self, tool: Json) -> float:
        return self.call_timeout

    def call_details(self, tool: Json) -> Json:
        return {"agent_id": tool.get("agent_id") or ""}

    async def run(self, state: RunState, tool: Json, arguments: Json) -> ToolResult:
        details = self.call_details(tool)
        task = arguments.get("input")
        if not isinstance(task, str) or not task.strip():
            details["error"] = {"code": "invalid_arguments", "message": "no task given"}
            return ToolResult("Error: give the agent its task as a non-empty 'input'.", details)
        metadata = state.run.get("metadata") or {}
        depth = int(metadata.get(DEPTH_KEY) or 0) + 1
        if depth > self.max_depth:
            message = f"connected agents may be nested {self.max_depth} deep at most"
            details["error"] = {"code": "too_deep", "message": message}
            return ToolResult(f"Error: {message}.", details)
        assert self.runs is not None, "ConnectedAgents.bind was not called"
        child = await self.runs.start(
            state.project,
            tool["agent_id"],
            task,
            {PARENT_KEY: state.id, DEPTH_KEY: str(depth)},
        )
        # (not `run_id`/`thread_id`: an item's own places go by those names)
        details.update(child_thread_id=child.thread_id, child_run_id=child.run_id)
        try:
            while child.status not in _ENDED and child.status != "requires_action":
                await asyncio.sleep(self.poll)
                child = await self.runs.read(state.project, child)
        except BaseException:
            # The parent was cancelled (or its call timed out): so is the child.
            with contextlib.suppress(Exception):
                await asyncio.shield(self.runs.cancel(state.project, child))
            raise
        if child.status == "requires_action":
            await self.runs.cancel(state.project, child)
            message = "the connected agent asked for tool outputs, which nobody can give it"
            details["error"] = {"code": "requires_action", "message": message}
            return ToolResult(f"Error: {message}.", details)
        if child.status != "completed":
            message = f"the connected agent's run {child.run_id} ended {child.status}"
            if child.error:
                message += f": {child.error}"
            details["error"] = {"code": f"run_{child.status}", "message": message}
            return ToolResult(f"Error: {message}.", details)
        return ToolResult(child.answer or "", details)
