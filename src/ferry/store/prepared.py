"""Hot-path statements: written in SQLAlchemy Core, compiled once per dialect, then run
directly on the driver's cursor.

`Connection.execute` spends about 100 µs per statement on work that does not change between
calls (coercion, cache keys, result metadata); a queue put needs about 25 µs when that is done
once. Callers pass every named `bindparam` (constants such as `count + 1` are filled in from
the statement); values must be plain (strings, numbers), and rows come back as the driver's
tuples, in the order of the statement's columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import Connection
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import Executable

__all__ = ["Prepared"]


class _Compiled(NamedTuple):
    sql: str
    positions: Sequence[str] | None
    """Parameter names in order, for drivers with positional placeholders (SQLite)."""
    constants: dict[str, Any]


class Prepared:
    """A statement compiled on first use with each dialect."""

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}

    def _for(self, conn: Connection) -> _Compiled:
        dialect = conn.dialect
        found = self._compiled.get(dialect.name)
        if found is None:
            compiled: SQLCompiler = self.statement.compile(dialect=dialect)  # type: ignore[attr-defined]
            constants = {
                name: bind.effective_value
                for bind, name in compiled.bind_names.items()
                if not bind.required
            }
            positions = compiled.positiontup
            found = _Compiled(compiled.string, list(positions) if positions else None, constants)
            self._compiled[dialect.name] = found
        return found

    def _run(self, conn: Connection, given: dict[str, Any], fetch: str) -> Any:
        sql, positions, constants = self._for(conn)
        params = {**constants, **given} if constants else given
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            if positions is not None:
                cursor.execute(sql, tuple(params[name] for name in positions))
            else:
                cursor.execute(sql, params)
            if fetch == "all":
                return cursor.fetchall()
            if fetch == "first":
                return cursor.fetchone()
            return cursor.rowcount
        finally:
            cursor.close()

    def all(self, conn: Connection, **params: Any) -> list[tuple[Any, ...]]:
        """Every row; `params` names every bind parameter."""
        rows: list[tuple[Any, ...]] = self._run(conn, params, "all")
        return rows

    def first(self, conn: Connection, **params: Any) -> tuple[Any, ...] | None:
        row: tuple[Any, ...] | None = self._run(conn, params, "first")
        return row

    def rowcount(self, conn: Connection, **params: Any) -> int:
        """How many rows the statement changed."""
        return int(self._run(conn, params, "rowcount"))
