"""Notices between processes sharing PostgreSQL or one SQLite file: two `Database` objects
here stand for two processes (each has its own engine, and its own listening connection or
socket); one test starts a real second process."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from ferry.queues.arrivals import Arrivals
from ferry.queues.store import QueueStore
from ferry.store import open_database
from ferry.store.signals import RUNS, SqliteSignals, signals_for


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def shared_url(request: pytest.FixtureRequest) -> str | None:
    """The database two `Database` objects share: None is the data folder's SQLite file."""
    if request.param == "sqlite":
        return None
    make: Callable[[], str] = request.getfixturevalue("postgres_databases")
    return make()


async def wait_set(event: asyncio.Event, seconds: float = 5.0) -> None:
    await asyncio.wait_for(event.wait(), seconds)


async def test_a_put_elsewhere_wakes_a_waiter_here(shared_url: str | None, tmp_path: Path) -> None:
    url = shared_url
    here_db = open_database(database_url=url, data=tmp_path)
    there_db = open_database(database_url=url, data=tmp_path)
    try:
        here = QueueStore(here_db, arrivals=Arrivals())
        there = QueueStore(there_db)
        await there.create_queue("acct", "jobs", {})
        assert here.arrivals is not None
        waiting = here.arrivals.event("acct", "jobs")
        other = here.arrivals.event("acct", "other")
        await asyncio.sleep(1.0)  # the listener connects and LISTENs
        await there.put_message("acct", "jobs", "hello", visibility_timeout=0, ttl=60)
        await wait_set(waiting)
        assert not other.is_set()

        # A message put hidden wakes nobody: it is not there to take yet.
        waiting.clear()
        await there.put_message("acct", "jobs", "later", visibility_timeout=30, ttl=60)
        await asyncio.sleep(1.0)
        assert not waiting.is_set()
    finally:
        signals_for(here_db).close()
        here_db.close()
        there_db.close()


async def test_notices_go_out_only_with_a_commit(shared_url: str | None, tmp_path: Path) -> None:
    url = shared_url
    here_db = open_database(database_url=url, data=tmp_path)
    there_db = open_database(database_url=url, data=tmp_path)
    heard: list[str] = []
    got = asyncio.Event()

    def hear(payload: str) -> None:
        heard.append(payload)
        got.set()

    class Abandoned(Exception):
        pass

    try:
        signals_for(here_db).listen(RUNS, hear)
        await asyncio.sleep(1.0)
        announcer = signals_for(there_db)

        def rolled_back(conn: object) -> None:
            announcer.announce(conn, RUNS, "run_rolled_back")  # type: ignore[arg-type]
            raise Abandoned

        with pytest.raises(Abandoned):
            await there_db.write(rolled_back)
        await there_db.write(lambda conn: announcer.announce(conn, RUNS, "run_committed"))
        await wait_set(got)
        await asyncio.sleep(0.5)
        assert heard == ["run_committed"]
    finally:
        signals_for(here_db).close()
        here_db.close()
        there_db.close()


_PUT_ELSEWHERE = """
import asyncio, sys
from pathlib import Path
from ferry.queues.store import QueueStore
from ferry.store import open_database

async def main():
    database = open_database(database_url=None, data=Path(sys.argv[1]))
    await QueueStore(database).put_message("acct", "jobs", "hi", visibility_timeout=0, ttl=60)
    database.close()

asyncio.run(main())
"""


async def test_a_put_by_another_process_on_the_sqlite_file_wakes_a_waiter_here(
    tmp_path: Path,
) -> None:
    database = open_database(database_url=None, data=tmp_path)
    try:
        here = QueueStore(database, arrivals=Arrivals())
        await here.create_queue("acct", "jobs", {})
        assert here.arrivals is not None
        waiting = here.arrivals.event("acct", "jobs")
        put = await asyncio.create_subprocess_exec(
            sys.executable, "-c", _PUT_ELSEWHERE, str(tmp_path), stderr=subprocess.PIPE
        )
        _, errors = await put.communicate()
        assert put.returncode == 0, errors.decode()
        await wait_set(waiting)
    finally:
        database.close()


async def test_a_dead_process_socket_is_removed_and_nothing_fails(tmp_path: Path) -> None:
    database = open_database(database_url=None, data=tmp_path)
    try:
        signals = signals_for(database)
        assert isinstance(signals, SqliteSignals)
        signals.folder.mkdir(parents=True, exist_ok=True)
        # A socket file left by a process killed with -9: bound once, read by nobody now.
        stale = signals.folder / "999999-dead.sock"
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(str(stale))
        sock.close()
        await database.write(lambda conn: signals.announce(conn, RUNS, "run_1"))
        assert not stale.exists()
    finally:
        database.close()
