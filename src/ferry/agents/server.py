"""Assembling the agent service: API, run engine, model router and queue locator.

`ferry start` mounts it beside the queue service and the functions host in one process;
`ferry serve agents` serves it alone, and `ferry worker` runs only the engine, both against
the store they are given (PostgreSQL to share runs between processes and machines).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette

from ferry.agents.app import build_app
from ferry.agents.auth import Authorizer, FerryTokens
from ferry.agents.services import AgentServices
from ferry.agents.subruns import ClassicSubRuns
from ferry.identity.tls import ensure_certificates
from ferry.identity.tokens import TokenIssuer
from ferry.instance import Instance
from ferry.knowledge.embeddings import Embedder
from ferry.knowledge.files import FileStore
from ferry.knowledge.images import FileImages
from ferry.knowledge.ingest import Ingester
from ferry.models.router import ModelRouter
from ferry.queues.arrivals import Arrivals
from ferry.queues.auth import Accounts
from ferry.queues.locator import LocalQueues, QueueLocator
from ferry.queues.store import QueueStore
from ferry.runs.bus import RunBus
from ferry.runs.engine import RunEngine
from ferry.serving import Listener, bind, run_until_stopped
from ferry.settings import Settings
from ferry.store import Database, open_database
from ferry.store.signals import RUNS, signals_for
from ferry.tools.runtime import ToolRuntime

__all__ = ["AgentsPart", "build_agents", "run_worker", "serve_agents"]


@dataclass
class AgentsPart:
    app: Starlette
    engine: RunEngine | None
    models: ModelRouter
    loading: list[tuple[str, Future[Any]]]
    """Local models loading in the background, for a progress line."""
    embedder: Embedder | None = None
    tools: ToolRuntime | None = None

    def describe_models(self) -> list[tuple[str, str]]:
        return model_rows(self.models, self.embedder, self.tools)


def model_rows(
    models: ModelRouter, embedder: Embedder | None, tools: ToolRuntime | None
) -> list[tuple[str, str]]:
    """The banner's model rows, with the embeddings model file search uses, if any, and how
    code_interpreter isolates code here."""
    rows = models.describe()
    if embedder is not None:
        rows.append(("(embeddings)", embedder.describe()))
    if tools is not None:
        rows += tools.describe()
    return rows


def build_agents(
    settings: Settings,
    database: Database,
    locator: QueueLocator,
    *,
    api: bool = True,
    engine: bool = True,
    authorizer: Authorizer | None = None,
) -> AgentsPart:
    """The agents API (with the engine running in its lifespan). Requests need a token of
    the local identity (`authorizer` by default checks them with the data folder's key)."""
    models = ModelRouter.from_environment(os.environ, settings.models, settings.fallback_model)
    bus = RunBus()
    embedder = Embedder.from_settings(settings.embeddings, os.environ)
    tools = ToolRuntime(settings, database, embedder) if engine else None
    run_engine = (
        RunEngine(
            database,
            models,
            locator,
            tool_timeout=settings.tool_timeout,
            lease_seconds=settings.run_lease,
            bus=bus,
            builtins=tools.builtins,
            images=FileImages(FileStore(database)),
            unavailable=tools.unavailable,
        )
        if tools is not None
        else None
    )
    ingester = (
        Ingester(database, FileStore(database), lease_seconds=settings.run_lease, embedder=embedder)
        if engine
        else None
    )
    services = AgentServices.build(
        database,
        wake=run_engine.wake if run_engine else (lambda: None),
        bus=bus,
        ingest=ingester.wake if ingester else (lambda: None),
    )
    if tools is not None:
        tools.bind(ClassicSubRuns(services.classic))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if ingester is not None:
            await ingester.start()
        if tools is not None:
            await tools.start()
        if run_engine is not None:
            await run_engine.start()
        else:
            # Runs are worked elsewhere: their streams here hear of changes as notices.
            signals_for(database).listen(RUNS, bus.changed)
        try:
            yield
        finally:
            if run_engine is not None:
                await run_engine.stop()
            if tools is not None:
                await tools.stop()
            if ingester is not None:
                await ingester.stop()
            if embedder is not None:
                await embedder.close()
            await locator.close()
            await models.close()

    authorizer = authorizer or FerryTokens(TokenIssuer(settings.data))
    app = build_app(services, authorizer, lifespan=lifespan)
    loading = models.prepare() if engine else []
    return AgentsPart(app, run_engine, models, loading, embedder, tools)


def local_locator(settings: Settings, database: Database, *, serves_queues: bool) -> QueueLocator:
    """Ferry's own queues are used in process when this process serves them, or shares
    their database (`--database-url`); otherwise every queue service is reached over HTTP."""
    accounts = Accounts(settings.accounts)
    local = None
    if serves_queues or settings.database_url:
        local = LocalQueues(QueueStore(database, arrivals=Arrivals()), accounts)
    return QueueLocator(local, settings.accounts)


def serve_agents(
    settings: Settings,
    announce: Callable[[str, str, list[tuple[str, str]], list[tuple[str, Future[Any]]]], None],
    *,
    engine: bool = True,
) -> None:
    """`ferry serve agents`: the API over https and (unless `engine` is False, when
    `ferry worker` processes do the work) the run engine, until SIGINT/SIGTERM."""
    database = open_database(database_url=settings.database_url, data=settings.data)
    pid = os.getpid()
    try:
        locator = local_locator(settings, database, serves_queues=False)
        part = build_agents(settings, database, locator, engine=engine)
        tls = ensure_certificates(settings.data, settings.tls_names)
        listener = Listener(part.app, bind(settings.host, settings.agents_port), tls)
        url = listener.url(settings.host)
        Instance(pid, {"agents": url}).write(settings.data)
        announce(url, database.describe(), part.describe_models(), part.loading)
        run_until_stopped([listener])
    finally:
        Instance.remove(settings.data, pid)
        database.close()


def run_worker(settings: Settings, announce: Callable[[str, list[tuple[str, str]]], None]) -> None:
    """`ferry worker`: only the run engine, sharing runs with every other process on the
    same database, until SIGINT/SIGTERM."""
    import asyncio
    import signal

    database = open_database(database_url=settings.database_url, data=settings.data)
    try:
        locator = local_locator(settings, database, serves_queues=False)
        models = ModelRouter.from_environment(os.environ, settings.models, settings.fallback_model)
        embedder = Embedder.from_settings(settings.embeddings, os.environ)
        tools = ToolRuntime(settings, database, embedder)
        engine = RunEngine(
            database,
            models,
            locator,
            tool_timeout=settings.tool_timeout,
            lease_seconds=settings.run_lease,
            builtins=tools.builtins,
            images=FileImages(FileStore(database)),
            unavailable=tools.unavailable,
        )
        # Connected agents' runs start through the store, like the API's (any process's
        # engine may work them).
        tools.bind(ClassicSubRuns(AgentServices.build(database, wake=engine.wake).classic))
        models.prepare()
        ingester = Ingester(
            database, FileStore(database), lease_seconds=settings.run_lease, embedder=embedder
        )

        async def main() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await ingester.start()
            await tools.start()
            await engine.start()
            announce(database.describe(), model_rows(models, embedder, tools))
            try:
                await stop.wait()
            finally:
                await engine.stop()
                await tools.stop()
                await ingester.stop()
                if embedder is not None:
                    await embedder.close()
                await locator.close()
                await models.close()

        asyncio.run(main())
    finally:
        database.close()
