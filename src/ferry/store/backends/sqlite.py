"""The embedded store: one SQLite file in WAL mode.

One writer thread (SQLite allows one writer at a time anyway) group-commits everything; readers
use their own connections and never block it. Each write transaction starts with
`BEGIN IMMEDIATE`, so several processes on the same file queue for the lock instead of failing
half-way. `synchronous=NORMAL` in WAL mode keeps every committed transaction across a crash of
the process (`kill -9`); `durability="full"` also keeps it across power loss, at the cost of
an fsync per commit.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import SQLAlchemyError

from ferry import jsontext
from ferry.store.database import Database
from ferry.store.errors import StoreError, StoreUnavailable

__all__ = ["SqliteDatabase"]

Durability = Literal["process", "full"]

_BUSY_TIMEOUT_MS = 10_000


class SqliteDatabase(Database):
    name = "sqlite"
    binary_collation = "BINARY"

    def __init__(self, path: Path, *, durability: Durability = "process", readers: int = 2):
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the data folder {path.parent}: {exc}") from None
        if not os.access(path.parent, os.W_OK):
            # SQLite would only say "unable to open database file" at the first query.
            raise StoreError(
                f"the data folder {path.parent} is not writable (read-only file system or "
                "permissions): Ferry keeps its store there; pass --data to choose another"
            )
        synchronous = "FULL" if durability == "full" else "NORMAL"
        super().__init__(
            self._engine(path, synchronous=synchronous, begin="BEGIN IMMEDIATE"),
            self._engine(path, synchronous=synchronous, begin="BEGIN", query_only=True),
            writers=1,
            readers=readers,
            max_batch=256,
        )

    def describe(self) -> str:
        return f"SQLite file {self.path}"

    @staticmethod
    def _engine(path: Path, *, synchronous: str, begin: str, query_only: bool = False) -> Engine:
        engine = create_engine(
            f"sqlite+pysqlite:///{path}",
            connect_args={"check_same_thread": False, "timeout": _BUSY_TIMEOUT_MS / 1000},
            json_serializer=jsontext.dumps,
            json_deserializer=jsontext.loads,
        )

        @event.listens_for(engine, "connect")
        def _configure(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
            # Manage transactions ourselves: pysqlite's own BEGIN handling would defer them.
            dbapi_connection.isolation_level = None
            for pragma in (
                "journal_mode=WAL",
                f"synchronous={synchronous}",
                f"busy_timeout={_BUSY_TIMEOUT_MS}",
                "foreign_keys=ON",
                f"query_only={'ON' if query_only else 'OFF'}",
            ):
                dbapi_connection.execute(f"PRAGMA {pragma}")

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            # Straight to the driver: this runs once per transaction, on the hot path.
            conn.connection.driver_connection.execute(begin)  # type: ignore[union-attr]

        return engine

    def _translate_driver_error(
        self, exc: SQLAlchemyError, orig: BaseException | None
    ) -> StoreError:
        detail = str(orig or exc).splitlines()[0]
        if isinstance(orig, sqlite3.OperationalError) and ("locked" in detail or "busy" in detail):
            return StoreUnavailable(f"{self.describe()} is busy: {detail}")
        if isinstance(orig, sqlite3.OperationalError) and "disk is full" in detail:
            # Writes fail until space is freed; reads go on, and nothing stored is harmed
            # (SQLite rolls the transaction back). Clients are told to retry later.
            return StoreUnavailable(f"{self.describe()} cannot grow: {detail}")
        return StoreError(f"{self.describe()}: {detail}")
