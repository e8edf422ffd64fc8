"""Signals between processes sharing one database: a write tells the others to look now.

A process wakes its own waiters directly; processes sharing PostgreSQL hear of each other's
writes through `LISTEN`/`NOTIFY`. A notice is sent inside the transaction that makes the
change, so PostgreSQL delivers it at commit and never for a write that was rolled back. It is
only a hint: whoever hears one reads the store, and whoever misses one (a dropped connection)
still finds the change at its next poll. SQLite is never shared between processes, so there
it says nothing and hears nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import weakref
from collections.abc import Callable

from sqlalchemy import Connection, text

from ferry.store.database import Database

__all__ = ["QUEUES", "RUNS", "PostgresSignals", "Signals", "signals_for"]

log = logging.getLogger(__name__)

QUEUES = "ferry_queues"
"""A message became visible; the payload is `<account>/<queue>`."""
RUNS = "ferry_runs"
"""A run changed or has work; the payload is its id."""

Callback = Callable[[str], None]

_RETRY = 1.0
"""Seconds before a listener whose connection failed connects again."""


class Signals:
    """The quiet kind, for a store no other process shares."""

    def announce(self, conn: Connection, channel: str, payload: str) -> None:
        """Tell the other processes, when the transaction `conn` is in commits."""

    def listen(self, channel: str, callback: Callback) -> None:
        """Call `callback(payload)` on this event loop for each notice on `channel`."""

    def close(self) -> None:
        """Stop listening."""


class PostgresSignals(Signals):
    """`NOTIFY` in the writer's transaction; one thread per process `LISTEN`s on a
    connection of its own and hands each notice to the event loop of its listener."""

    def __init__(self, conninfo: str) -> None:
        self.conninfo = conninfo
        self._listeners: dict[str, list[tuple[Callback, asyncio.AbstractEventLoop]]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def announce(self, conn: Connection, channel: str, payload: str) -> None:
        conn.execute(
            text("SELECT pg_notify(:channel, :payload)"), {"channel": channel, "payload": payload}
        )

    def listen(self, channel: str, callback: Callback) -> None:
        loop = asyncio.get_running_loop()
        with self._lock:
            self._listeners.setdefault(channel, []).append((callback, loop))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="ferry-postgres-listen", daemon=True
                )
                self._thread.start()

    def close(self) -> None:
        self._stop.set()  # the thread sees it within half a second

    def _run(self) -> None:
        import psycopg
        from psycopg import sql

        while not self._stop.is_set():
            try:
                with psycopg.connect(
                    self.conninfo,
                    autocommit=True,
                    connect_timeout=10,
                    application_name="ferry-listen",
                ) as conn:
                    listening: set[str] = set()
                    while not self._stop.is_set():
                        with self._lock:
                            wanted = set(self._listeners) - listening
                        for channel in wanted:
                            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
                            listening.add(channel)
                        for notice in conn.notifies(timeout=0.5):
                            self._deliver(notice.channel, notice.payload)
            except psycopg.Error as exc:
                log.warning(
                    "listening for PostgreSQL notices failed (%s); polling until it is back", exc
                )
                self._stop.wait(_RETRY)

    def _deliver(self, channel: str, payload: str) -> None:
        with self._lock:
            listeners = list(self._listeners.get(channel, ()))
        for callback, loop in listeners:
            with contextlib.suppress(RuntimeError):  # that loop has closed
                loop.call_soon_threadsafe(callback, payload)


_QUIET = Signals()
_BY_DATABASE: weakref.WeakKeyDictionary[Database, Signals] = weakref.WeakKeyDictionary()
_BY_DATABASE_LOCK = threading.Lock()


def signals_for(database: Database) -> Signals:
    """The one `Signals` of `database` in this process (its listener thread is shared)."""
    from ferry.store.backends.postgres import PostgresDatabase

    if not isinstance(database, PostgresDatabase):
        return _QUIET
    with _BY_DATABASE_LOCK:
        found = _BY_DATABASE.get(database)
        if found is None:
            conninfo = database.url.set(drivername="postgresql").render_as_string(
                hide_password=False
            )
            found = _BY_DATABASE[database] = PostgresSignals(conninfo)
            weakref.finalize(database, found.close)
        return found
