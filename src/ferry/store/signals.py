"""Signals between processes sharing one database: a write tells the others to look now.

A process wakes its own waiters directly; processes sharing PostgreSQL hear of each other's
writes through `LISTEN`/`NOTIFY`. A notice is sent inside the transaction that makes the
change, so PostgreSQL delivers it at commit and never for a write that was rolled back.
Processes sharing one SQLite file (`ferry start` beside `ferry worker`s on one machine) tell
each other with datagrams on Unix sockets kept beside the file, sent once the transaction has
committed. Either way a notice is only a hint: whoever hears one reads the store, and whoever
misses one (a dropped connection, a full socket buffer) still finds the change at its next
poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import socket
import tempfile
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Connection, text

from ferry.store.database import NOTICES, Database

__all__ = ["QUEUES", "RUNS", "PostgresSignals", "Signals", "SqliteSignals", "signals_for"]

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


class _Heard(Signals):
    """Listeners by channel, each called on its own event loop: what both kinds that hear
    other processes keep."""

    def __init__(self) -> None:
        self._listeners: dict[str, list[tuple[Callback, asyncio.AbstractEventLoop]]] = {}
        self._lock = threading.Lock()

    def _add(self, channel: str, callback: Callback) -> asyncio.AbstractEventLoop:
        """Called with `_lock` held."""
        loop = asyncio.get_running_loop()
        self._listeners.setdefault(channel, []).append((callback, loop))
        return loop

    def _deliver(self, channel: str, payload: str) -> None:
        with self._lock:
            listeners = list(self._listeners.get(channel, ()))
        for callback, loop in listeners:
            with contextlib.suppress(RuntimeError):  # that loop has closed
                loop.call_soon_threadsafe(callback, payload)


class PostgresSignals(_Heard):
    """`NOTIFY` in the writer's transaction; one thread per process `LISTEN`s on a
    connection of its own and hands each notice to the event loop of its listener."""

    def __init__(self, conninfo: str) -> None:
        super().__init__()
        self.conninfo = conninfo
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def announce(self, conn: Connection, channel: str, payload: str) -> None:
        conn.execute(
            text("SELECT pg_notify(:channel, :payload)"), {"channel": channel, "payload": payload}
        )

    def listen(self, channel: str, callback: Callback) -> None:
        with self._lock:
            self._add(channel, callback)
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
                if self._stop.is_set():
                    return  # closed with its database (which may be gone already)
                log.warning(
                    "listening for PostgreSQL notices failed (%s); polling until it is back", exc
                )
                self._stop.wait(_RETRY)


_MAX_DATAGRAM = 8192
_MAX_SOCKET_PATH = 100
"""Unix socket paths are limited to about 108 bytes; longer folders use one under /tmp."""
_PEERS_FRESH = 1.0
"""Seconds a list of the other processes' sockets is trusted before the folder is read again
(at once when it has changed: a process that starts is heard from its first notice on)."""


class SqliteSignals(_Heard):
    """Datagrams between the processes sharing one SQLite file. Each process that listens
    binds a socket in a folder beside the file; a write transaction collects its notices
    (`NOTICES`) and the database sends them to every other socket there once it commits."""

    def __init__(self, database_path: Path) -> None:
        folder = database_path.parent / f"{database_path.name}-signals"
        if len(str(folder)) + 30 > _MAX_SOCKET_PATH:
            digest = hashlib.sha256(str(database_path.resolve()).encode()).hexdigest()[:16]
            folder = Path(tempfile.gettempdir()) / f"ferry-signals-{digest}"
        super().__init__()
        self.folder = folder
        self._own: Path | None = None
        self._inbox: socket.socket | None = None
        self._outbox = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._outbox.setblocking(False)
        self._peers: list[str] = []
        self._peers_read = 0.0
        self._peers_stamp = 0

    def announce(self, conn: Connection, channel: str, payload: str) -> None:
        conn.info.setdefault(NOTICES, []).append((channel, payload))

    def listen(self, channel: str, callback: Callback) -> None:
        with self._lock:
            loop = self._add(channel, callback)
            if self._inbox is None:
                self._open(loop)

    def _open(self, loop: asyncio.AbstractEventLoop) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        own = self.folder / f"{os.getpid()}-{os.urandom(4).hex()}.sock"
        inbox = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        inbox.setblocking(False)
        inbox.bind(str(own))
        self._inbox, self._own = inbox, own
        loop.add_reader(inbox.fileno(), self._receive)

    def _receive(self) -> None:
        assert self._inbox is not None
        while True:
            try:
                data = self._inbox.recv(_MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return  # closed meanwhile
            for line in data.decode("utf-8", "replace").splitlines():
                channel, _, payload = line.partition("\t")
                self._deliver(channel, payload)

    def send(self, notices: list[tuple[str, str]]) -> None:
        """Tell every other process sharing the file (called after a commit, in the thread
        that committed)."""
        peers = self._others()
        if not peers:
            return
        lines = list(dict.fromkeys(f"{channel}\t{payload}" for channel, payload in notices))
        datagrams: list[bytes] = []
        current: list[str] = []
        size = 0
        for line in lines:
            if current and size + len(line) + 1 > _MAX_DATAGRAM:
                datagrams.append("\n".join(current).encode())
                current, size = [], 0
            current.append(line)
            size += len(line) + 1
        datagrams.append("\n".join(current).encode())
        for peer in peers:
            for datagram in datagrams:
                try:
                    self._outbox.sendto(datagram, peer)
                except (BlockingIOError, InterruptedError):
                    break  # its buffer is full: it will find the changes when it polls
                except (ConnectionRefusedError, FileNotFoundError):
                    self._forget(peer)
                    break
                except OSError as exc:
                    log.debug("cannot signal %s: %s", peer, exc)
                    break

    def _others(self) -> list[str]:
        now = time.monotonic()
        try:
            stamp = self.folder.stat().st_mtime_ns
        except OSError:
            return []
        if stamp != self._peers_stamp or now - self._peers_read > _PEERS_FRESH:
            own = str(self._own) if self._own is not None else None
            try:
                found = [str(p) for p in self.folder.glob("*.sock") if str(p) != own]
            except OSError:
                found = []
            self._peers, self._peers_read, self._peers_stamp = found, now, stamp
        return self._peers

    def _forget(self, peer: str) -> None:
        """A socket nobody reads any more (its process died without removing it)."""
        with contextlib.suppress(OSError):
            os.unlink(peer)
        self._peers = [p for p in self._peers if p != peer]

    def close(self) -> None:
        with self._lock:
            inbox, own = self._inbox, self._own
            self._inbox = self._own = None
        if inbox is not None:
            for _callback, loop in [pair for pairs in self._listeners.values() for pair in pairs]:
                with contextlib.suppress(Exception):
                    loop.remove_reader(inbox.fileno())
            inbox.close()
        if own is not None:
            with contextlib.suppress(OSError):
                own.unlink()
        self._outbox.close()


_QUIET = Signals()
_BY_DATABASE: weakref.WeakKeyDictionary[Database, Signals] = weakref.WeakKeyDictionary()
_BY_DATABASE_LOCK = threading.Lock()


def signals_for(database: Database) -> Signals:
    """The one `Signals` of `database` in this process (its listener thread is shared)."""
    from ferry.store.backends.postgres import PostgresDatabase
    from ferry.store.backends.sqlite import SqliteDatabase

    if not isinstance(database, PostgresDatabase | SqliteDatabase):
        return _QUIET
    with _BY_DATABASE_LOCK:
        found = _BY_DATABASE.get(database)
        if found is None:
            if isinstance(database, PostgresDatabase):
                conninfo = database.url.set(drivername="postgresql").render_as_string(
                    hide_password=False
                )
                found = PostgresSignals(conninfo)
            else:
                sqlite = SqliteSignals(database.path)
                database.committed = sqlite.send
                found = sqlite
            _BY_DATABASE[database] = found
            database.closing.append(found.close)
            weakref.finalize(database, found.close)
        return found
