"""The database seam over both backends: migrations, errors, translation of driver errors."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from ferry.errors import ConfigError
from ferry.store import Database, SchemaError, StoreError, StoreUnavailable, open_database
from ferry.store.migrate import current_revision, head_revision, upgrade
from ferry.store.schema import metadata
from tests.conftest import BACKENDS


def _declared(name: str | None, kind: str, parent: dict[str, str | None]) -> bool:
    """The full-text index over chunks (SQLite's FTS5 tables, PostgreSQL's `tsv` column and
    its index) is made by migration 0005 alone: SQLAlchemy cannot declare it."""
    return not (name or "").startswith(("chunks_fts", "ix_chunks_tsv")) and name != "tsv"


def test_schema_matches_the_declared_tables(database: Database) -> None:
    with database.write_engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_name": _declared})
        differences = compare_metadata(context, metadata)
    assert differences == []
    assert current_revision(database.write_engine) == head_revision()


def test_migrations_are_idempotent(database: Database) -> None:
    upgrade(database.write_engine)
    upgrade(database.write_engine)
    assert current_revision(database.write_engine) == head_revision()


@pytest.mark.parametrize("backend", BACKENDS)
def test_concurrent_first_starts_migrate_once(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    # Given several processes' worth of first starts on one empty database,
    url = request.getfixturevalue("postgres_databases")() if backend == "postgres" else None
    errors: list[BaseException] = []

    def start() -> None:
        try:
            open_database(database_url=url, data=tmp_path).close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # each waits for the others' migration instead of failing.
    assert errors == []


def test_data_folder_that_cannot_be_created_is_a_clear_error() -> None:
    # Not even root may create folders in /proc, so this holds wherever the tests run.
    with pytest.raises(StoreError, match="cannot create the data folder"):
        open_database(database_url=None, data=Path("/proc/ferry-test/data"))


def test_data_folder_that_is_a_file_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError, match="data folder"):
        open_database(database_url=None, data=blocker / "data")


def test_corrupt_database_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "ferry.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="ferry.db"):
        open_database(database_url=None, data=tmp_path)


def test_unreachable_postgres_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailable, match="PostgreSQL"):
        open_database(database_url="postgresql://nobody@127.0.0.1:1/none", data=tmp_path)


@pytest.mark.parametrize("url", ["mysql://x/y", "sqlite:///x.db", "nonsense"])
def test_unsupported_urls(url: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        open_database(database_url=url, data=tmp_path)


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    open_database(database_url=None, data=tmp_path).close()
    engine = create_engine(f"sqlite:///{tmp_path / 'ferry.db'}")
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(SchemaError, match="9999"):
        open_database(database_url=None, data=tmp_path)


def _subclasses(base: type[BaseException]) -> list[type[BaseException]]:
    found = [base]
    for sub in base.__subclasses__():
        found += _subclasses(sub)
    return found


def test_every_driver_error_becomes_a_store_error(database: Database) -> None:
    driver_base = sqlite3.Error if database.name == "sqlite" else psycopg.Error
    for cls in _subclasses(driver_base):
        try:
            original = cls("simulated")
        except TypeError:
            continue
        wrapped = DBAPIError.instance("SELECT 1", {}, original, driver_base)
        translated = database.translate(wrapped)
        assert isinstance(translated, StoreError), cls
        assert "simulated" in str(translated) or cls.__name__ in str(translated), cls
