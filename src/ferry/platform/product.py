"""The whole product in one process: queues, identity, agents with their engine and, when
there is an app, its functions host (`ferry start`; `ferry serve all` has no app)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from ferry.agents.auth import FerryTokens
from ferry.functions.logs import install_console_logging
from ferry.platform.agents import build_agents
from ferry.platform.banner import Started
from ferry.platform.functions import functions_host, load_function_app
from ferry.platform.identity import start_identity
from ferry.platform.queues import local_queues, locator, queue_app, queues_url
from ferry.platform.serve import Served, serve
from ferry.platform.workers import WorkerProcesses
from ferry.queues.auth.tokens import StorageTokens
from ferry.serving import Listener, bind
from ferry.settings import Settings
from ferry.store import Database

__all__ = ["serve_product"]


def serve_product(
    settings: Settings,
    folder: Path | None,
    *,
    enable_auth: bool,
    announce: Callable[[Started], None],
    config: Path | None = None,
) -> None:
    """Load the app (its bindings checked), serve until SIGINT/SIGTERM.

    One queue store (with wake-ups) serves the protocol and the app's triggers; one locator
    resolves queues for the host's bindings and the engine's azure_function calls; the local
    identity's key signs the tokens the queues and the agents API take."""
    token_endpoint = start_identity(settings)
    identity, tls = token_endpoint.identity, token_endpoint.identity.tls
    # As App Service does: the app's credential finds the token endpoint, and its clients
    # trust Ferry's CA besides whatever they trusted before (the bundle holds both).
    os.environ.update(identity.environment())
    install_console_logging()
    app = load_function_app(folder) if folder is not None else None
    workers = WorkerProcesses(settings, settings.workers, config) if settings.workers else None

    def build(database: Database) -> Served[Started]:
        local = local_queues(settings, database)
        queues = queue_app(settings, local, StorageTokens(identity.issuer))
        queue_listener = Listener(queues, bind(settings.host, settings.queue_port))
        tls_listener = Listener(queues, bind(settings.host, settings.queue_tls_port), tls)
        listeners = [queue_listener, tls_listener, token_endpoint.listener]
        shared = locator(settings, local)
        host = None
        if app is not None:
            host = functions_host(settings, app, shared, database, enable_auth=enable_auth)
        agents = build_agents(
            settings, database, shared, FerryTokens(identity.issuer), enable_auth=enable_auth
        )
        models = agents.models
        if workers is not None:
            workers.start()
            more = f"this process and {workers.count} `ferry worker` processes beside it"
            models = [*models, ("(runs worked by)", more)]
        agents_listener = Listener(agents.app, bind(settings.host, settings.agents_port), tls)
        agents_url = agents_listener.url(settings.host)
        listeners.append(agents_listener)
        services = {}
        functions_url = None
        if host is not None:
            http_listener = Listener(host.asgi(), bind(settings.host, settings.http_port))
            functions_url = http_listener.url(settings.host)
            listeners.append(http_listener)
            services["functions"] = functions_url
        services["queues"] = queues_url(settings, queue_listener)
        services["agents"] = agents_url
        services["queues_tls"] = queues_url(settings, tls_listener)
        services["identity"] = identity.endpoint
        banner = Started(
            functions_url,
            services["queues"],
            database.describe(),
            host.listing(functions_url) if host and functions_url else [],
            agents_url,
            models,
            services["queues_tls"],
            identity.endpoint,
            agents.loading,
        )
        return Served(listeners, services, banner, {"identity_header": identity.secret})

    try:
        serve(settings, build, announce)
    finally:
        if workers is not None:
            workers.stop()
