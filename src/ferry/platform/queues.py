"""The queue service: Ferry's own queues in this process, the locator every queue user
shares, the protocol's app and listeners; served with `ferry start`, or alone
(`ferry serve queues`)."""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp

from ferry.identity.tls import ensure_certificates
from ferry.identity.tokens import TokenIssuer
from ferry.platform.serve import Served, serve
from ferry.queues.app import QueueService, build_app
from ferry.queues.arrivals import Arrivals
from ferry.queues.auth import DEV_ACCOUNT, Accounts
from ferry.queues.auth.tokens import StorageTokens
from ferry.queues.locator import LocalQueues, QueueLocator
from ferry.queues.store import QueueStore
from ferry.serving import Listener, bind
from ferry.settings import Settings
from ferry.store import Database

__all__ = ["local_queues", "locator", "queue_app", "queues_url", "serve_queues", "shared_locator"]


def local_queues(settings: Settings, database: Database) -> LocalQueues:
    """The store with its wake-ups (a put, here or by NOTIFY, wakes a trigger at once)."""
    return LocalQueues(QueueStore(database, arrivals=Arrivals()), Accounts(settings.accounts))


def locator(settings: Settings, local: LocalQueues | None) -> QueueLocator:
    """Which queue service a URL or connection means: `local` in process, any other over
    HTTP. The functions host's connections and the run engine share it."""
    return QueueLocator(local, settings.accounts)


def shared_locator(
    settings: Settings, database: Database, *, works_runs: bool = False
) -> QueueLocator:
    """For a process that does not serve the queues: Ferry's own are used in process when it
    shares their database (`--database-url`; or, for a process that works runs, the data
    folder's SQLite file, where the runs it works were made beside the queues their calls
    use); otherwise every queue service is reached over HTTP."""
    shares = bool(settings.database_url) or works_runs
    return locator(settings, local_queues(settings, database) if shares else None)


def queue_app(settings: Settings, local: LocalQueues, tokens: StorageTokens | None) -> ASGIApp:
    service = QueueService(local.store, local.accounts, tokens=tokens)
    return build_app(service, purge_interval=settings.purge_interval)


def queues_url(settings: Settings, listener: Listener) -> str:
    """Path-style: the account is the URL's first segment."""
    return f"{listener.url(settings.host)}/{DEV_ACCOUNT}"


def serve_queues(
    settings: Settings, announce: Callable[[str, str], None], *, tls_port: int | None = None
) -> None:
    """Serve until SIGINT/SIGTERM. `announce(url, store)` is called once the ports listen.

    With `tls_port`, https too, with the data folder's certificate, and bearer tokens signed
    with its key are taken beside shared keys and SAS (clients send tokens over https only):
    what an app's `DefaultAzureCredential` needs when its queues are served apart from
    `ferry start`, as in a cluster."""
    accounts = Accounts(settings.accounts)

    def build(database: Database) -> Served[tuple[str, str]]:
        tokens = tls = None
        if tls_port is not None:
            tokens = StorageTokens(TokenIssuer(settings.data))
            tls = ensure_certificates(settings.data, settings.tls_names)
        # No triggers wait here, so the store needs no wake-ups.
        app = queue_app(settings, LocalQueues(QueueStore(database), accounts), tokens)
        listener = Listener(app, bind(settings.host, settings.queue_port))
        url = queues_url(settings, listener)
        listeners, services = [listener], {"queues": url}
        if tls_port is not None:
            secure = Listener(app, bind(settings.host, tls_port), tls)
            services["queues_tls"] = queues_url(settings, secure)
            listeners.append(secure)
        return Served(listeners, services, (url, database.describe()))

    serve(settings, build, lambda banner: announce(*banner))
