"""The database seam (`Database`) and the choice between its backends."""

from __future__ import annotations

from pathlib import Path

from ferry.errors import ConfigError
from ferry.store.database import Database
from ferry.store.errors import SchemaError, StoreError, StoreUnavailable

__all__ = [
    "Database",
    "SchemaError",
    "StoreError",
    "StoreUnavailable",
    "open_database",
]


def open_database(*, database_url: str | None, data: Path, migrate: bool = True) -> Database:
    """The PostgreSQL database at `database_url`, or else the SQLite file in `data`,
    with its schema brought up to date."""
    from ferry.store import migrate as migrations

    database: Database
    if database_url:
        scheme = database_url.split(":", 1)[0].lower()
        if scheme.startswith("postgres"):
            from ferry.store.backends.postgres import PostgresDatabase

            database = PostgresDatabase(database_url)
        elif scheme.startswith("sqlite"):
            raise ConfigError("use --data DIR for the embedded SQLite store, not a sqlite:// URL")
        else:
            raise ConfigError(f"unsupported database URL scheme {scheme!r}: use postgresql://")
    else:
        from ferry.store.backends.sqlite import SqliteDatabase

        database = SqliteDatabase(data / "ferry.db")
    if migrate:
        try:
            migrations.upgrade(database.write_engine)
        except BaseException as exc:
            database.close()
            translated = database.translate(exc)
            if isinstance(translated, StoreError):
                raise translated from None
            raise SchemaError(f"cannot migrate {database.describe()}: {exc}") from exc
    return database
