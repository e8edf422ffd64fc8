"""Notices between processes sharing PostgreSQL: two `Database` objects here stand for two
processes (each has its own engine and its own listening connection)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from ferry.queues.arrivals import Arrivals
from ferry.queues.store import QueueStore
from ferry.store import open_database
from ferry.store.signals import RUNS, Signals, signals_for


async def wait_set(event: asyncio.Event, seconds: float = 5.0) -> None:
    await asyncio.wait_for(event.wait(), seconds)


@pytest.mark.postgres
async def test_a_put_elsewhere_wakes_a_waiter_here(
    postgres_databases: Callable[[], str], tmp_path: Path
) -> None:
    url = postgres_databases()
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


@pytest.mark.postgres
async def test_notices_go_out_only_with_a_commit(
    postgres_databases: Callable[[], str], tmp_path: Path
) -> None:
    url = postgres_databases()
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


def test_sqlite_says_nothing(tmp_path: Path) -> None:
    database = open_database(database_url=None, data=tmp_path)
    try:
        assert type(signals_for(database)) is Signals
    finally:
        database.close()
