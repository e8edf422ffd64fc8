"""`ferry start` (queue service + functions host in one process) and `ferry functions`
(the host alone, against any queue service)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ferry.functions.appsettings import apply_local_settings
from ferry.functions.connections import Connections, LocalQueues
from ferry.functions.host import FunctionsHost, Listing
from ferry.functions.hostconfig import load_host_config
from ferry.functions.loader import load_app
from ferry.functions.logs import install_console_logging
from ferry.instance import Instance
from ferry.queues.app import QueueService, build_app
from ferry.queues.arrivals import Arrivals
from ferry.queues.auth import DEV_ACCOUNT, Accounts
from ferry.queues.store import QueueStore
from ferry.serving import Listener, bind, run_until_stopped
from ferry.settings import Settings
from ferry.store import open_database

__all__ = ["Started", "serve_functions"]


@dataclass(frozen=True)
class Started:
    """What `ferry start` tells the user once everything listens."""

    functions_url: str
    queues_url: str | None
    store: str
    functions: list[Listing]
    agents_url: str | None = None
    models: list[tuple[str, str]] | None = None


def prepare_app_environment(folder: Path) -> None:
    """What `func start` does before loading an app: its settings become environment
    variables (without overriding), and it runs as a Development environment."""
    apply_local_settings(folder)
    os.environ.setdefault("AZURE_FUNCTIONS_ENVIRONMENT", "Development")


def serve_functions(
    settings: Settings,
    folder: Path,
    *,
    with_queues: bool,
    enable_auth: bool,
    announce: Callable[[Started], None],
) -> None:
    """Load the app, check its bindings, serve until SIGINT/SIGTERM."""
    folder = folder.resolve()
    prepare_app_environment(folder)
    install_console_logging()
    app = load_app(folder)
    config = load_host_config(folder)
    database = open_database(database_url=settings.database_url, data=settings.data)
    pid = os.getpid()
    try:
        accounts = Accounts(settings.accounts)
        listeners = []
        queues_url = None
        local = None
        if with_queues or settings.database_url:
            store = QueueStore(database, arrivals=Arrivals())
            local = LocalQueues(store, accounts)
        if with_queues:
            assert local is not None
            service = QueueService(local.store, accounts)
            queue_app = build_app(service, purge_interval=settings.purge_interval)
            queue_listener = Listener(queue_app, bind(settings.host, settings.queue_port))
            queues_url = f"{queue_listener.url(settings.host)}/{DEV_ACCOUNT}"
            listeners.append(queue_listener)
        connections = Connections(local, keys=settings.accounts)
        host = FunctionsHost(
            app,
            config,
            connections,
            database,
            settings.data,
            enable_auth=enable_auth,
            shutdown_grace=settings.shutdown_grace,
        )
        agents_url = None
        models = None
        if with_queues:
            from ferry.agents.server import build_agents
            from ferry.identity.tls import ensure_certificates

            agents = build_agents(settings, database, connections.locator)
            tls = ensure_certificates(settings.data, settings.tls_names)
            agents_listener = Listener(agents.app, bind(settings.host, settings.agents_port), tls)
            agents_url = agents_listener.url(settings.host)
            models = agents.models.describe()
            listeners.append(agents_listener)
        http_listener = Listener(host.asgi(), bind(settings.host, settings.http_port))
        functions_url = http_listener.url(settings.host)
        listeners.append(http_listener)
        services = {"functions": functions_url}
        if queues_url:
            services["queues"] = queues_url
        if agents_url:
            services["agents"] = agents_url
        Instance(pid, services).write(settings.data)
        announce(
            Started(
                functions_url,
                queues_url,
                database.describe(),
                host.listing(functions_url),
                agents_url,
                models,
            )
        )
        run_until_stopped(listeners)
    finally:
        Instance.remove(settings.data, pid)
        database.close()
