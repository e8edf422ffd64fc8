"""`ferry start` (queue service + functions host in one process) and `ferry functions`
(the host alone, against any queue service)."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ferry.errors import ConfigError
from ferry.functions.appsettings import apply_local_settings
from ferry.functions.connections import Connections, LocalQueues
from ferry.functions.host import FunctionsHost, Listing
from ferry.functions.hostconfig import load_host_config
from ferry.functions.loader import load_app
from ferry.functions.logs import install_console_logging
from ferry.identity.local import start_identity
from ferry.instance import Instance
from ferry.queues.app import QueueService, build_app
from ferry.queues.arrivals import Arrivals
from ferry.queues.auth import DEV_ACCOUNT, Accounts
from ferry.queues.auth.tokens import StorageTokens
from ferry.queues.store import QueueStore
from ferry.serving import Listener, bind, run_until_stopped
from ferry.settings import Settings
from ferry.store import open_database

__all__ = ["Started", "serve_functions"]


@dataclass(frozen=True)
class Started:
    """What `ferry start` tells the user once everything listens."""

    functions_url: str | None
    """None when no function app is served (`ferry serve all`)."""
    queues_url: str | None
    store: str
    functions: list[Listing]
    agents_url: str | None = None
    models: list[tuple[str, str]] | None = None
    queues_tls_url: str | None = None
    identity_url: str | None = None
    loading: list[tuple[str, Future[Any]]] = field(default_factory=list)
    """Local models loading in the background."""


def prepare_app_environment(folder: Path) -> None:
    """What `func start` does before loading an app: its settings become environment
    variables (without overriding), and it runs as a Development environment."""
    apply_local_settings(folder)
    os.environ.setdefault("AZURE_FUNCTIONS_ENVIRONMENT", "Development")


def serve_functions(
    settings: Settings,
    folder: Path | None,
    *,
    with_queues: bool,
    enable_auth: bool,
    announce: Callable[[Started], None],
) -> None:
    """Load the app, check its bindings, serve until SIGINT/SIGTERM. Without a folder, serve
    Ferry's services alone (queues, identity, agents): what `ferry serve all` runs."""
    if folder is None and not with_queues:
        raise ConfigError("a functions host needs an app folder")
    identity = start_identity(settings) if with_queues else None
    if identity is not None:
        # As App Service does: the app's credential finds the token endpoint, and its clients
        # trust Ferry's CA besides whatever they trusted before (the bundle holds both).
        os.environ.update(identity.environment())
    install_console_logging()
    app, config = None, None
    if folder is not None:
        folder = folder.resolve()
        prepare_app_environment(folder)
        app, config = load_app(folder), load_host_config(folder)
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
        queues_tls_url = None
        if with_queues:
            assert local is not None and identity is not None
            service = QueueService(local.store, accounts, tokens=StorageTokens(identity.issuer))
            queue_app = build_app(service, purge_interval=settings.purge_interval)
            queue_listener = Listener(queue_app, bind(settings.host, settings.queue_port))
            queues_url = f"{queue_listener.url(settings.host)}/{DEV_ACCOUNT}"
            tls_listener = Listener(
                queue_app, bind(settings.host, settings.queue_tls_port), identity.tls
            )
            queues_tls_url = f"{tls_listener.url(settings.host)}/{DEV_ACCOUNT}"
            listeners += [queue_listener, tls_listener, identity.listener]
        connections = Connections(local, keys=settings.accounts)
        host = None
        if app is not None and config is not None:
            host = FunctionsHost(
                app,
                config,
                connections,
                database,
                settings.data,
                enable_auth=enable_auth,
                shutdown_grace=settings.shutdown_grace,
                trigger_hold=settings.trigger_hold,
            )
        agents_url = None
        models = None
        loading: list[tuple[str, Future[Any]]] = []
        if with_queues:
            from ferry.agents.auth import FerryTokens
            from ferry.agents.server import build_agents

            assert identity is not None
            agents = build_agents(
                settings, database, connections.locator, authorizer=FerryTokens(identity.issuer)
            )
            agents_listener = Listener(
                agents.app, bind(settings.host, settings.agents_port), identity.tls
            )
            agents_url = agents_listener.url(settings.host)
            models = agents.describe_models()
            loading = agents.loading
            listeners.append(agents_listener)
        services = {}
        functions_url = None
        if host is not None:
            http_listener = Listener(host.asgi(), bind(settings.host, settings.http_port))
            functions_url = http_listener.url(settings.host)
            listeners.append(http_listener)
            services["functions"] = functions_url
        if queues_url:
            services["queues"] = queues_url
        if agents_url:
            services["agents"] = agents_url
        secrets = {}
        if queues_tls_url and identity is not None:
            services["queues_tls"] = queues_tls_url
            services["identity"] = identity.endpoint
            secrets["identity_header"] = identity.secret
        Instance(pid, services, secrets).write(settings.data)
        announce(
            Started(
                functions_url,
                queues_url,
                database.describe(),
                host.listing(functions_url) if host and functions_url else [],
                agents_url,
                models,
                queues_tls_url,
                identity.endpoint if identity is not None else None,
                loading,
            )
        )
        run_until_stopped(listeners)
    finally:
        Instance.remove(settings.data, pid)
        database.close()
