"""`ferry serve queues`: the queue service alone, on the embedded or a shared store."""

from __future__ import annotations

import os
from collections.abc import Callable

from ferry.identity.tls import ensure_certificates
from ferry.identity.tokens import TokenIssuer
from ferry.instance import Instance
from ferry.queues.app import QueueService, build_app
from ferry.queues.auth import DEV_ACCOUNT, Accounts
from ferry.queues.auth.tokens import StorageTokens
from ferry.queues.store import QueueStore
from ferry.serving import Listener, bind, run_until_stopped
from ferry.settings import Settings
from ferry.store import open_database

__all__ = ["serve_queues"]


def serve_queues(
    settings: Settings, announce: Callable[[str, str], None], *, tls_port: int | None = None
) -> None:
    """Serve until SIGINT/SIGTERM. `announce(url, store)` is called once the ports listen.

    With `tls_port`, https too, with the data folder's certificate, and bearer tokens signed
    with its key are taken beside shared keys and SAS (clients send tokens over https only):
    what an app's `DefaultAzureCredential` needs when its queues are served apart from
    `ferry start`, as in a cluster."""
    accounts = Accounts(settings.accounts)
    database = open_database(database_url=settings.database_url, data=settings.data)
    pid = os.getpid()
    try:
        tokens = tls = None
        if tls_port is not None:
            tokens = StorageTokens(TokenIssuer(settings.data))
            tls = ensure_certificates(settings.data, settings.tls_names)
        service = QueueService(QueueStore(database), accounts, tokens=tokens)
        app = build_app(service, purge_interval=settings.purge_interval)
        listener = Listener(app, bind(settings.host, settings.queue_port))
        url = f"{listener.url(settings.host)}/{DEV_ACCOUNT}"
        listeners, services = [listener], {"queues": url}
        if tls_port is not None:
            secure = Listener(app, bind(settings.host, tls_port), tls)
            services["queues_tls"] = f"{secure.url(settings.host)}/{DEV_ACCOUNT}"
            listeners.append(secure)
        Instance(pid, services).write(settings.data)
        announce(url, database.describe())
        run_until_stopped(listeners)
    finally:
        Instance.remove(settings.data, pid)
        database.close()
