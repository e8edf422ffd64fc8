"""`ferry worker`: only the run engine, sharing runs with every other process on the same
database (PostgreSQL with --database-url, or the data folder's SQLite file), until
SIGINT/SIGTERM. It serves no port, so it writes no instance record."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import sys
from collections.abc import Callable

from ferry import tracing
from ferry.agents.services import AgentServices
from ferry.platform.engine import Engine, Models
from ferry.platform.queues import shared_locator
from ferry.platform.serve import opened
from ferry.platform.workers import PARENT
from ferry.queues.locator import QueueLocator
from ferry.serving import tune_gc
from ferry.settings import Settings

__all__ = ["run_worker"]

_PR_SET_PDEATHSIG = 1


def run_worker(settings: Settings, announce: Callable[[str, list[tuple[str, str]]], None]) -> None:
    """`announce(store, rows)` once the engine works."""
    _die_with_parent(os.environ.get(PARENT))
    with opened(settings) as database:
        locator = shared_locator(settings, database, works_runs=True)
        models = Models.from_settings(settings)
        engine = Engine(settings, database, models, locator)
        # Connected agents' runs start through the store, like the API's.
        engine.bind(AgentServices.build(database, wake=engine.runs.wake))
        models.router.prepare()
        store = database.describe()
        tune_gc()
        tracing.configure("ferry")
        try:
            asyncio.run(_work(engine, locator, lambda: announce(store, engine.describe())))
        finally:
            tracing.shutdown()


def _die_with_parent(parent: str | None) -> None:
    """A worker of `ferry start --workers` ends with that process, even one killed by SIGKILL
    (on Linux: SIGTERM on the parent's death), so that none outlives it."""
    if not parent:
        return
    if sys.platform == "linux":
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if str(os.getppid()) != parent:  # it died before the line above took effect
        raise SystemExit(0)


async def _work(engine: Engine, locator: QueueLocator, started: Callable[[], None]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await engine.start()
    started()
    try:
        await stop.wait()
    finally:
        await engine.stop()
        await locator.close()
        await engine.models.close()
