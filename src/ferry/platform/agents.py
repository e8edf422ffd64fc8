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
from ferry.dashboard import dashboard_routes
from ferry.dashboard.session import loopback
from ferry.identity.tls import ensure_certificates
from ferry.identity.tokens import TokenIssuer
from ferry.platform.engine import Engine, Models
from ferry.platform.queues import shared_locator
from ferry.platform.serve import Served, serve
from ferry.queues.locator import QueueLocator
from ferry.queues.store import QueueStore
from ferry.runs.bus import RunBus
from ferry.serving import Listener, bind, stopping
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
    enable_auth: bool = False,
) -> AgentsPart:
    """The API and the dashboard beside it, and (unless `engine` is False) the engine
    working runs in its lifespan. Without one, runs are worked elsewhere: streams here hear
    of them as notices. The dashboard asks for a token with `enable_auth` or when the
    instance listens beyond loopback; otherwise this machine's browser may open it."""
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

    queues = locator.local.store if locator.local is not None else QueueStore(database)
    dashboard = dashboard_routes(
        services,
        queues,
        authorizer,
        login_required=enable_auth or not loopback(settings.host),
        stopping=stopping,
    )
    app = build_app(services, authorizer, lifespan=lifespan, beside=dashboard)
    if work is None:
        return AgentsPart(app, models.describe(), [])
    return AgentsPart(app, work.describe(), models.router.prepare())


def serve_agents(
    settings: Settings,
    announce: Callable[[str, str, Rows, Loading], None],
    *,
    engine: bool = True,
    enable_auth: bool = False,
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
            enable_auth=enable_auth,
        )
        tls = ensure_certificates(settings.data, settings.tls_names)
        listener = Listener(part.app, bind(settings.host, settings.agents_port), tls)
        url = listener.url(settings.host)
        banner = (url, database.describe(), part.models, part.loading)
        return Served([listener], {"agents": url}, banner)

    serve(settings, build, lambda banner: announce(*banner))
