"""Brings a database's schema to the version this Ferry needs, safely from many processes."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

__all__ = ["current_revision", "head_revision", "upgrade"]

# Arbitrary constant naming Ferry's migration lock among PostgreSQL advisory locks.
_ADVISORY_LOCK = 0x6665727279


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", "ferry.store:migrations")
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Run pending migrations (up to `revision`) in one transaction; concurrent callers wait
    for each other (an advisory lock on PostgreSQL, the write lock of `BEGIN IMMEDIATE` on
    SQLite)."""
    config = _config()
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK})
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
