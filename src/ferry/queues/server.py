"""`ferry serve queues`: the queue service alone, on the embedded or a shared store."""

from __future__ import annotations

import os
from collections.abc import Callable

from ferry.instance import Instance
from ferry.queues.app import QueueService, build_app
from ferry.queues.auth import DEV_ACCOUNT, Accounts
from ferry.queues.store import QueueStore
from ferry.serving import Listener, bind, run_until_stopped
from ferry.settings import Settings
from ferry.store import open_database

__all__ = ["serve_queues"]


def serve_queues(settings: Settings, announce: Callable[[str, str], None]) -> None:
    """Serve until SIGINT/SIGTERM. `announce(url, store)` is called once the port listens."""
    accounts = Accounts(settings.accounts)
    database = open_database(database_url=settings.database_url, data=settings.data)
    pid = os.getpid()
    try:
        service = QueueService(QueueStore(database), accounts)
        app = build_app(service, purge_interval=settings.purge_interval)
        listener = Listener(app, bind(settings.host, settings.queue_port))
        url = f"{listener.url(settings.host)}/{DEV_ACCOUNT}"
        Instance(pid, {"queues": url}).write(settings.data)
        announce(url, database.describe())
        run_until_stopped([listener])
    finally:
        Instance.remove(settings.data, pid)
        database.close()
