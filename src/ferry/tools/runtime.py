"""The tool runtime of one Ferry process: every tool its run engine carries out itself, built
from the settings, with what their life needs (code sessions swept while idle, shut down at
the end) and what the banner says of them.

`ferry start`, `ferry serve agents` and `ferry worker` build one each, so a run gets the same
tools whichever process works it. A tool that cannot work here (code_interpreter without a
sandbox) is not built; the engine fails runs that use it with the reason given here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from ferry.identity.tokens import TokenIssuer
from ferry.knowledge.embeddings import Embedder
from ferry.knowledge.files import FileStore
from ferry.knowledge.filesearch import FileSearch
from ferry.knowledge.vectorstores import VectorStores
from ferry.runs.builtin import BuiltinTool
from ferry.settings import Settings
from ferry.store import Database
from ferry.tools.code.sandbox import Limits, SandboxMode, parse_mode, probe
from ferry.tools.code.sessions import CodeSessions
from ferry.tools.code.tool import CodeInterpreter
from ferry.tools.connected import ConnectedAgents, SubRuns
from ferry.tools.mcp.tool import McpTools
from ferry.tools.openapi.tool import OpenApiTools

__all__ = ["ToolRuntime"]

log = logging.getLogger(__name__)


class ToolRuntime:
    def __init__(self, settings: Settings, database: Database, embedder: Embedder | None):
        files = FileStore(database)
        issuer = TokenIssuer(settings.data)
        self.sandbox = probe(parse_mode(settings.code_sandbox))
        self.sessions = CodeSessions(
            settings.data / "code",
            self.sandbox,
            Limits(wall_seconds=settings.code_timeout),
            idle_seconds=settings.code_idle,
        )
        self.connected = ConnectedAgents()
        self.builtins: list[BuiltinTool] = [
            FileSearch(database, VectorStores(database), embedder),
            McpTools(timeout=settings.mcp_timeout),
            OpenApiTools(identity=lambda audience: issuer.issue(audience).value),
            self.connected,
        ]
        self.unavailable: dict[str, str] = {}
        if self.sessions.available:
            self.builtins.append(CodeInterpreter(self.sessions, files))
        else:
            self.unavailable["code_interpreter"] = self.sandbox.reason
        if self.sandbox.mode != SandboxMode.OFF and self.sandbox.effective != "bwrap":
            log.warning("code_interpreter: %s", self.sandbox.reason)
        self._sweeper: asyncio.Task[None] | None = None

    def bind(self, runs: SubRuns) -> None:
        """Where connected agents' runs start (the agents API, built after the engine)."""
        self.connected.bind(runs)

    def describe(self) -> list[tuple[str, str]]:
        """The banner's row for code_interpreter: how model-written code is isolated here."""
        effective = self.sandbox.effective
        if effective is None:
            return [("(code_interpreter)", f"[bold red]refused[/]: {self.sandbox.reason}")]
        if effective == "unsafe":
            return [("(code_interpreter)", f"[bold red]NO ISOLATION[/]: {self.sandbox.reason}")]
        return [("(code_interpreter)", self.sandbox.reason)]

    async def start(self) -> None:
        if self.sessions.available:
            self._sweeper = asyncio.create_task(self._sweep(), name="ferry-code-sweeper")

    async def _sweep(self) -> None:
        every = max(1.0, min(60.0, self.sessions.idle_seconds / 4))
        while True:
            await asyncio.sleep(every)
            try:
                await self.sessions.sweep()
            except Exception:
                log.exception("cannot sweep idle code sessions")

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        await self.sessions.aclose()
