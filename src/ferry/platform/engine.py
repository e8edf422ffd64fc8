"""The run engine and what it drives (models, embeddings, the tool runtime, file
ingestion), built here once for every process that works runs: `ferry start` and
`ferry serve agents` run it in the agents API's lifespan, `ferry worker` alone.

The agents API never sees the engine: it is handed `wake` (a run has work) and `ingest`
(files wait to be indexed), and the bus its streams listen on."""

from __future__ import annotations

import os
from dataclasses import dataclass

from ferry.agents.services import AgentServices
from ferry.agents.subruns import ClassicSubRuns
from ferry.knowledge.embeddings import Embedder
from ferry.knowledge.files import FileStore
from ferry.knowledge.images import FileImages
from ferry.knowledge.ingest import Ingester
from ferry.models.router import ModelRouter
from ferry.queues.locator import QueueLocator
from ferry.runs.bus import RunBus
from ferry.runs.engine import RunEngine
from ferry.settings import Settings
from ferry.store import Database
from ferry.tools.runtime import ToolRuntime

__all__ = ["Engine", "Models"]


@dataclass(frozen=True)
class Models:
    """The chat models (behind the router) and the embeddings model file search uses, if
    any: what the banner lists even where another process works the runs."""

    router: ModelRouter
    embedder: Embedder | None

    @classmethod
    def from_settings(cls, settings: Settings) -> Models:
        return cls(
            ModelRouter.from_environment(os.environ, settings.models, settings.fallback_model),
            Embedder.from_settings(settings.embeddings, os.environ),
        )

    def describe(self) -> list[tuple[str, str]]:
        rows = self.router.describe()
        if self.embedder is not None:
            rows.append(("(embeddings)", self.embedder.describe()))
        return rows

    async def close(self) -> None:
        if self.embedder is not None:
            await self.embedder.close()
        await self.router.close()


class Engine:
    """Claims runs from the store and advances them, with this process's tools; indexes
    uploaded files. `bus` is where this process's streaming requests hear of its runs."""

    def __init__(
        self,
        settings: Settings,
        database: Database,
        models: Models,
        locator: QueueLocator,
        *,
        bus: RunBus | None = None,
    ) -> None:
        self.models = models
        self.tools = ToolRuntime(settings, database, models.embedder)
        self.runs = RunEngine(
            database,
            models.router,
            locator,
            tool_timeout=settings.tool_timeout,
            lease_seconds=settings.run_lease,
            bus=bus,
            builtins=self.tools.builtins,
            images=FileImages(FileStore(database)),
            unavailable=self.tools.unavailable,
        )
        self.ingester = Ingester(
            database,
            FileStore(database),
            lease_seconds=settings.run_lease,
            embedder=models.embedder,
        )

    def bind(self, services: AgentServices) -> None:
        """Connected agents' runs start through the classic API's service, as a client's
        would (any process's engine may work them)."""
        self.tools.bind(ClassicSubRuns(services.classic))

    def describe(self) -> list[tuple[str, str]]:
        """The banner's rows: the models, and how code_interpreter isolates code here."""
        return self.models.describe() + self.tools.describe()

    async def start(self) -> None:
        await self.ingester.start()
        await self.tools.start()
        await self.runs.start()

    async def stop(self) -> None:
        await self.runs.stop()
        await self.tools.stop()
        await self.ingester.stop()
