"""The database seam every part stores its state through.

A `Database` runs *units of work*: functions that take a SQLAlchemy `Connection` inside a
transaction. Writes go through a group committer (many units, one commit); reads go to their own
threads so they never wait behind writes. The SQL itself is written once, with SQLAlchemy Core,
by the part that owns the tables; a backend (`ferry.store.backends.*`) only supplies the engine,
its dialect's quirks and the mapping of its driver's errors.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy import Connection, Engine, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from ferry.errors import FerryError
from ferry.store.committer import GroupCommitter, Work
from ferry.store.errors import StoreError

__all__ = ["NOTICES", "Database"]

T = TypeVar("T")

NOTICES = "ferry_notices"
"""Key of `Connection.info` under which a transaction collects the (channel, payload) notices
to send once it commits, for backends whose notices are not part of the transaction."""


class Database(ABC):
    """A database holding Ferry's tables, with group-committed writes."""

    name: str
    """Short backend name for messages: "sqlite" or "postgres"."""
    binary_collation: str
    """The collation that orders strings by their bytes, as the queue protocol lists names."""

    def __init__(
        self,
        write_engine: Engine,
        read_engine: Engine,
        *,
        writers: int,
        readers: int,
        max_batch: int = 64,
    ) -> None:
        self.write_engine = write_engine
        self.read_engine = read_engine
        self.committed: Callable[[list[tuple[str, str]]], None] | None = None
        """Told the notices a write transaction collected (`NOTICES`), after it commits."""
        self.closing: list[Callable[[], None]] = []
        """Called by `close` first: what lives only as long as the database (its notices'
        listener) stops with it."""
        self._writes = GroupCommitter(
            lambda: self._begin_write(write_engine),
            threads=writers,
            max_batch=max_batch,
            name=f"ferry-{self.name}-write",
            translate=self.translate,
        )
        self._reads = GroupCommitter(
            lambda: self._begin(read_engine),
            threads=readers,
            max_batch=max_batch,
            name=f"ferry-{self.name}-read",
            translate=self.translate,
        )

    async def write(self, work: Work[T]) -> T:
        """Run `work` in a transaction that is committed before this returns."""
        return await self._writes.run(work)

    async def read(self, work: Work[T]) -> T:
        """Run `work` on a consistent snapshot; it must not write."""
        return await self._reads.run(work)

    def write_sync(self, work: Work[T]) -> T:
        """`write` for callers without an event loop (migrations, the CLI, tests)."""
        return self._writes.run_sync(work)

    def read_sync(self, work: Work[T]) -> T:
        return self._reads.run_sync(work)

    def insert(self, table: Table) -> sqlite.Insert | postgresql.Insert:
        """An INSERT that supports `on_conflict_do_nothing()` in this dialect."""
        if self.write_engine.dialect.name == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)

    def close(self) -> None:
        """Finish pending work, then release every connection."""
        while self.closing:
            self.closing.pop()()
        self._writes.close()
        self._reads.close()
        self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            self.read_engine.dispose()

    def translate(self, exc: BaseException) -> BaseException:
        """Turn a driver or SQLAlchemy error into a `StoreError`; leave Ferry's own alone."""
        if isinstance(exc, FerryError) or not isinstance(exc, SQLAlchemyError):
            return exc
        orig = exc.orig if isinstance(exc, DBAPIError) else None
        return self._translate_driver_error(exc, orig)

    @abstractmethod
    def _translate_driver_error(
        self, exc: SQLAlchemyError, orig: BaseException | None
    ) -> StoreError:
        """Map an error of this backend's driver to a `StoreError` subclass."""

    @abstractmethod
    def describe(self) -> str:
        """Where the data lives, for people: a path or a URL without its password."""

    @staticmethod
    @contextmanager
    def _begin(engine: Engine) -> Iterator[Connection]:
        with engine.begin() as conn:
            yield conn

    @contextmanager
    def _begin_write(self, engine: Engine) -> Iterator[Connection]:
        """A write transaction; the notices it collected are passed on once it commits (a
        transaction rolled back tells nothing)."""
        with engine.begin() as conn:
            pending: list[tuple[str, str]] = conn.info.setdefault(NOTICES, [])
            pending.clear()  # left by a transaction of this connection that failed
            yield conn
            told = list(pending)
            pending.clear()
        if told and self.committed is not None:
            self.committed(told)
