"""The `code_interpreter` tool: the model's Python runs in the thread's sandboxed session.

A chat-completions model knows only functions, so the tool is offered as a function named
`code_interpreter` taking the program as `code`; its calls are shown as code_interpreter
steps (classic) and `code_interpreter_call` items (v2). The session's working folder
(`/mnt/data` in the sandbox) holds the files the user gave the tool (`tool_resources.
code_interpreter.file_ids`, attachments with the tool, v2's `container.file_ids`); what the
program prints becomes `logs`, the figures it shows `image` outputs (and `image_file` parts
of the answer), the files it writes new files whose `sandbox:/mnt/data/…` links in the
answer become `file_path` annotations.
"""

from __future__ import annotations

import io
import re

from ferry.errors import FerryError
from ferry.knowledge.files import FileStore
from ferry.runs.builtin import BuiltinTool, ToolResult
from ferry.runs.ledger import RunState
from ferry.tools.code.sessions import CodeSessions, Execution
from ferry.tools.code.spec import CODE_DESCRIPTION, CODE_PARAMETERS
from ferry.types import Json

__all__ = ["CODE_DESCRIPTION", "CODE_PARAMETERS", "CodeInterpreter", "session_key"]

_LINK = re.compile(r"sandbox:/mnt/data/[^\s)\]\"'>]+")
_MAX_LOGS = 20_000
"""Characters of a call's logs the model is shown (the run step keeps them all)."""


def session_key(state: RunState) -> str:
    """One session per thread or conversation; a v2 response chain's first response
    stands for the chain."""
    if state.conversation_id is not None:
        return state.conversation_id
    chain = state.run.get("chain") or []
    return str(chain[0]) if chain else state.id


def _tool_files(state: RunState, tool: Json) -> list[str]:
    """The ids of the files the session's folder should hold, oldest first."""
    found: list[str] = list(tool.get("file_ids") or [])
    resources = state.run.get("tool_resources") or {}
    found += (resources.get("code_interpreter") or {}).get("file_ids") or []
    for item in [*state.context, *state.own]:
        for attachment in item.get("attachments") or []:
            if any(t.get("type") == "code_interpreter" for t in attachment.get("tools") or []):
                found.append(attachment["file_id"])
    return list(dict.fromkeys(found))


class CodeInterpreter(BuiltinTool):
    kind = "code_interpreter"
    acts = True

    def __init__(
        self,
        sessions: CodeSessions,
        files: FileStore,
        *,
        timeout: float | None = None,
    ) -> None:
        self.sessions = sessions
        self.files = files
        self.call_timeout = timeout if timeout is not None else sessions.limits.wall_seconds

    def timeout(self, tool: Json) -> float:
        # The kernel's own wall limit stops the program first; the engine's deadline is
        # the backstop that also covers starting the session and storing its files.
        return self.call_timeout + 60.0

    async def run(self, state: RunState, tool: Json, arguments: Json) -> ToolResult:
        code = arguments.get("code")
        if not isinstance(code, str) or not code.strip():
            return ToolResult(
                "Error: code_interpreter needs the program as a non-empty 'code' string.",
                {"input": "", "outputs": [], "error": {"code": "invalid_arguments"}},
            )
        key = session_key(state)
        inputs = await self._inputs(state, tool)
        execution = await self.sessions.execute(key, code, inputs=inputs, timeout=self.call_timeout)
        return await self._result(state, code, execution)

    async def _inputs(self, state: RunState, tool: Json) -> dict[str, bytes]:
        inputs: dict[str, bytes] = {}
        for file_id in _tool_files(state, tool):
            try:
                stored = await self.files.get(state.project, file_id)
                inputs[stored.filename] = await self.files.read_all(file_id)
            except FerryError:
                continue  # deleted since it was given: the program will not find it
        return inputs

    async def _result(self, state: RunState, code: str, execution: Execution) -> ToolResult:
        outputs: list[Json] = []
        notes: list[str] = []
        if execution.fresh and self._ran_before(state):
            notes.append(
                "Note: the Python session was restarted (it expired, was lost, or is on "
                "another worker); variables from earlier calls are gone, files in /mnt/data "
                "were given again."
            )
        logs = execution.logs
        if execution.error and execution.error not in logs:
            # What Ferry did (a timeout, a lost session) is part of what the user sees.
            joint = "" if not logs or logs.endswith("\n") else "\n"
            logs = f"{logs}{joint}{execution.error}\n"
        if logs:
            outputs.append({"type": "logs", "logs": logs})
        images: list[str] = []
        for number, png in enumerate(execution.images):
            stored = await self.files.create(
                state.project, f"image_{number}.png", "assistants_output", io.BytesIO(png)
            )
            images.append(stored.id)
            outputs.append({"type": "image", "file_id": stored.id})
        written: list[Json] = []
        for path, data in execution.files:
            stored = await self.files.create(
                state.project, path, "assistants_output", io.BytesIO(data)
            )
            written.append({"path": f"/mnt/data/{path}", "file_id": stored.id})
        text = logs if len(logs) <= _MAX_LOGS else logs[:_MAX_LOGS] + "\n[… logs cut …]"
        parts = [*notes, text or "(no output)"]
        if execution.error and execution.error not in text:
            parts.append(f"Error: {execution.error}")
        if images:
            parts.append(f"{len(images)} image(s) shown to the user.")
        for entry in written:
            parts.append(f"Wrote sandbox:{entry['path']}")
        details: Json = {
            "input": code,
            "outputs": outputs,
            "files": written,
            "container_id": session_key(state),
        }
        if execution.error:
            details["error"] = {"code": "execution_error", "message": execution.error}
        return ToolResult("\n".join(parts), details)

    @staticmethod
    def _ran_before(state: RunState) -> bool:
        """Whether the thread's session had run code before (in any run of it)."""
        return any(
            item.get("tool") == "code_interpreter" and "output" in item
            for item in [*state.context, *state.own]
        )

    def interrupted(self, state: RunState, tool: Json, arguments: Json) -> ToolResult:
        return ToolResult(
            "Ferry stopped while this code was running; the Python session was lost (its "
            "variables are gone) and the code's effects are unknown. Run it again if needed.",
            {
                "input": str(arguments.get("code") or ""),
                "outputs": [],
                "error": {"code": "interrupted", "message": "the worker stopped during the call"},
            },
        )

    def annotate(self, text: str, items: list[Json]) -> list[Json]:
        """`sandbox:/mnt/data/<name>` links to files this run's code wrote."""
        written = {
            entry["path"]: (entry["file_id"], item.get("container_id"))
            for item in items
            if item.get("tool") == "code_interpreter"
            for entry in item.get("files") or []
        }
        notes = []
        for match in _LINK.finditer(text):
            found = written.get(match.group(0).removeprefix("sandbox:"))
            if found is not None:
                notes.append(
                    {
                        "type": "file_path",
                        "text": match.group(0),
                        "start_index": match.start(),
                        "end_index": match.end(),
                        "file_id": found[0],
                        "container_id": found[1],
                    }
                )
        return notes

    def contents(self, items: list[Json]) -> list[Json]:
        """The figures this run's code showed, as `image_file` parts of its answer."""
        return [
            {"type": "image_file", "file_id": output["file_id"], "detail": None}
            for item in items
            if item.get("tool") == "code_interpreter"
            for output in item.get("outputs") or []
            if output.get("type") == "image"
        ]
