"""The one sequence every serving command runs: open the database, build, listen, record,
announce, serve until SIGINT/SIGTERM, clean up.

Ports are bound while building (port 0 picks a free one), so the instance record and the
banner give the real addresses before the first request is accepted; the record
(`<data>/instance.json`, read by `ferry env` and `ferry queue`) is removed, and the database
closed, however serving ends."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from ferry import tracing
from ferry.instance import Instance
from ferry.serving import Listener, run_until_stopped
from ferry.settings import Settings
from ferry.store import Database, open_database

__all__ = ["Served", "opened", "run_served", "serve"]

B = TypeVar("B")


@dataclass(frozen=True)
class Served(Generic[B]):
    """What a process serves, once its ports listen."""

    listeners: list[Listener]
    services: dict[str, str]
    """Service name → URL, as the instance record names them."""
    banner: B
    """What the command tells the user."""
    secrets: dict[str, str] = field(default_factory=dict)


@contextlib.contextmanager
def opened(settings: Settings) -> Iterator[Database]:
    """The store the settings name (embedded SQLite, or shared PostgreSQL), closed after."""
    database = open_database(database_url=settings.database_url, data=settings.data)
    try:
        yield database
    finally:
        database.close()


def serve(
    settings: Settings, build: Callable[[Database], Served[B]], announce: Callable[[B], None]
) -> None:
    with opened(settings) as database:
        run_served(settings, build(database), announce)


def run_served(settings: Settings, served: Served[B], announce: Callable[[B], None]) -> None:
    """Record what is served, say so, serve until stopped; then remove the record."""
    pid = os.getpid()
    tracing.configure("ferry")
    try:
        Instance(pid, served.services, served.secrets).write(settings.data)
        announce(served.banner)
        run_until_stopped(served.listeners)
    finally:
        Instance.remove(settings.data, pid)
        tracing.shutdown()
