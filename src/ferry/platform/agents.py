"""The agent service: the agents API with the run engine in its lifespan; mounted by
`ferry start` beside the queues and the functions host, or served alone
(`ferry serve agents`, with `--no-engine` when `ferry worker` processes work the runs)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette

from ferry.agents.app import build_app
from ferry.agents.auth import Authorizer, FerryTokens
from ferry.agents.services import AgentServices
from ferry.identity.tls import ensure_certificates
from ferry.identity.tokens import TokenIssuer
from ferry.platform.engine import Engine, Models
from ferry.platform.queues import shared_locator
from ferry.platform.serve import Served, serve
from ferry.queues.locator import QueueLocator
from ferry.runs.bus import RunBus
from ferry.serving import Listener, bind
from ferry.settings import Settings
from ferry.store import Database
from ferry.store.signals import RUNS, signals_for

__all__ = ["AgentsPart", "Loading", "Rows", "build_agents", "serve_agents"]

Rows = list[tuple[str, str]]
"""The banner's rows: a model pattern (or a tool) and what serves it."""
Loading = list[tuple[str, Future[Any]]]
"""Local models loading in the background, for a progress line."""


@dataclass(frozen=True)
class AgentsPart:
    app: Starlette
    models: Rows
    loading: Loading


def build_agents(
    settings: Settings,
    database: Database,
    locator: QueueLocator,
    authorizer: Authorizer,
    *,
    engine: bool = True,
) -> AgentsPart:
    """The API, and (unless `engine` is False) the engine working runs in its lifespan.
    Without one, runs are worked elsewhere: streams here hear of them as notices."""
    models = Models.from_settings(settings)
    bus = RunBus()
    work = Engine(settings, database, models, locator, bus=bus) if engine else None
    if work is None:
        services = AgentServices.build(database, bus=bus)
    else:
        services = AgentServices.build(
            database, wake=work.runs.wake, bus=bus, ingest=work.ingester.wake
        )
        work.bind(services)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if work is not None:
            await work.start()
        else:
            signals_for(database).listen(RUNS, bus.changed)
        try:
            yield
        finally:
            if work is not None:
                await work.stop()
            await locator.close()
            await models.close()

    app = build_app(services, authorizer, lifespan=lifespan)
    if work is None:
        return AgentsPart(app, models.describe(), [])
    return AgentsPart(app, work.describe(), models.router.prepare())


def serve_agents(
    settings: Settings,
    announce: Callable[[str, str, Rows, Loading], None],
    *,
    engine: bool = True,
) -> None:
    """`ferry serve agents`: the API over https, with the data folder's certificate and
    tokens of its key, until SIGINT/SIGTERM."""

    def build(database: Database) -> Served[tuple[str, str, Rows, Loading]]:
        authorizer = FerryTokens(TokenIssuer(settings.data))
        part = build_agents(
            settings,
            database,
            shared_locator(settings, database, works_runs=engine),
            authorizer,
            engine=engine,
        )
        tls = ensure_certificates(settings.data, settings.tls_names)
        listener = Listener(part.app, bind(settings.host, settings.agents_port), tls)
        url = listener.url(settings.host)
        banner = (url, database.describe(), part.models, part.loading)
        return Served([listener], {"agents": url}, banner)

    serve(settings, build, lambda banner: announce(*banner))
