"""The shared store: PostgreSQL, for many Ferry processes on many machines.

Writers group-commit like SQLite's single writer, but several of them run at once; row locks
with `FOR UPDATE SKIP LOCKED` keep concurrent consumers of one queue off each other's messages.
"""

from __future__ import annotations

from sqlalchemy import create_engine, make_url
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError

from ferry import jsontext
from ferry.errors import ConfigError
from ferry.store.database import Database
from ferry.store.errors import StoreError, StoreUnavailable

__all__ = ["PostgresDatabase", "normalize_url"]


def normalize_url(url: str) -> str:
    """`postgres://` and `postgresql://` URLs, as users write them, use the psycopg driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql", "postgresql+psycopg"):
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    raise ConfigError(f"not a PostgreSQL URL: {parsed.render_as_string()}")


class PostgresDatabase(Database):
    name = "postgres"
    binary_collation = "C"

    def __init__(self, url: str, *, writers: int = 4, readers: int = 4) -> None:
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise ConfigError(
                "a PostgreSQL database needs the driver: pip install 'ferry[postgres]'"
            ) from None
        self.url = make_url(normalize_url(url))
        engine = create_engine(
            self.url,
            pool_size=writers + readers,
            max_overflow=0,
            pool_pre_ping=True,
            connect_args={"connect_timeout": 10, "application_name": "ferry"},
            json_serializer=jsontext.dumps,
            json_deserializer=jsontext.loads,
        )
        super().__init__(engine, engine, writers=writers, readers=readers)

    def describe(self) -> str:
        return f"PostgreSQL {self.url.render_as_string(hide_password=True)}"

    def _translate_driver_error(
        self, exc: SQLAlchemyError, orig: BaseException | None
    ) -> StoreError:
        detail = str(orig or exc).strip().splitlines()[0] if str(orig or exc).strip() else ""
        if isinstance(exc, OperationalError | InterfaceError):
            return StoreUnavailable(f"{self.describe()} is unavailable: {detail}")
        return StoreError(f"{self.describe()}: {detail}")
