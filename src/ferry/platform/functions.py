"""The functions host for an app folder, as `func start` runs it: with `ferry start`, or
alone (`ferry functions`) against the queue services its connection settings name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ferry.functions.appsettings import prepare_app_environment
from ferry.functions.connections import Connections
from ferry.functions.host import FunctionsHost
from ferry.functions.hostconfig import HostConfig, load_host_config
from ferry.functions.loader import LoadedApp, load_app
from ferry.functions.logs import install_console_logging
from ferry.platform.banner import Started
from ferry.platform.queues import shared_locator
from ferry.platform.serve import Served, serve
from ferry.queues.locator import QueueLocator
from ferry.serving import Listener, bind
from ferry.settings import Settings
from ferry.store import Database

__all__ = ["FunctionApp", "functions_host", "load_function_app", "serve_functions"]


@dataclass(frozen=True)
class FunctionApp:
    app: LoadedApp
    config: HostConfig
    """Its host.json."""


def load_function_app(folder: Path) -> FunctionApp:
    """Import and index the app (its bindings checked), with its settings in the
    environment, before any port is bound: a broken app fails the start at once."""
    folder = folder.resolve()
    prepare_app_environment(folder)
    return FunctionApp(load_app(folder), load_host_config(folder))


def functions_host(
    settings: Settings,
    app: FunctionApp,
    locator: QueueLocator,
    database: Database,
    *,
    enable_auth: bool,
) -> FunctionsHost:
    return FunctionsHost(
        app.app,
        app.config,
        Connections(locator),
        database,
        settings.data,
        enable_auth=enable_auth,
        shutdown_grace=settings.shutdown_grace,
        trigger_hold=settings.trigger_hold,
    )


def serve_functions(
    settings: Settings, folder: Path, *, enable_auth: bool, announce: Callable[[Started], None]
) -> None:
    """`ferry functions`: the host alone. With --database-url, Ferry's own queues (and
    accounts) are reached straight through that shared store."""
    install_console_logging()
    app = load_function_app(folder)

    def build(database: Database) -> Served[Started]:
        locator = shared_locator(settings, database)
        host = functions_host(settings, app, locator, database, enable_auth=enable_auth)
        listener = Listener(host.asgi(), bind(settings.host, settings.http_port))
        url = listener.url(settings.host)
        banner = Started(url, None, database.describe(), host.listing(url))
        return Served([listener], {"functions": url}, banner)

    serve(settings, build, announce)
