"""The group committer: batching, failure isolation, delivery to sync and async callers."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from ferry.store.committer import GroupCommitter


class FakeTransactions:
    """Records what each transaction ran and whether it committed."""

    def __init__(self) -> None:
        self.committed: list[list[str]] = []
        self.gate = threading.Event()
        self.gate.set()

    @contextmanager
    def __call__(self) -> Iterator[Any]:
        ran: list[str] = []
        self.gate.wait()
        yield ran
        self.committed.append(ran)


def committer(transactions: FakeTransactions) -> GroupCommitter:
    return GroupCommitter(
        transactions, threads=1, max_batch=64, name="test", translate=lambda exc: exc
    )


def job(name: str, fail: bool = False) -> Any:
    def work(ran: list[str]) -> str:
        ran.append(name)
        if fail:
            raise ValueError(name)
        return name.upper()

    return work


async def test_waiting_jobs_share_one_commit() -> None:
    transactions = FakeTransactions()
    runner = committer(transactions)
    transactions.gate.clear()  # hold the thread so that jobs pile up
    first = asyncio.ensure_future(runner.run(job("first")))
    await asyncio.sleep(0.05)
    rest = [asyncio.ensure_future(runner.run(job(f"j{i}"))) for i in range(10)]
    await asyncio.sleep(0.05)
    transactions.gate.set()
    assert await first == "FIRST"
    assert await asyncio.gather(*rest) == [f"J{i}" for i in range(10)]
    assert transactions.committed[-1] == [f"j{i}" for i in range(10)]
    runner.close()


async def test_a_failure_reaches_only_its_caller() -> None:
    transactions = FakeTransactions()
    runner = committer(transactions)
    transactions.gate.clear()
    blocker = asyncio.ensure_future(runner.run(job("blocker")))
    await asyncio.sleep(0.05)
    jobs = [runner.run(job("a")), runner.run(job("bad", fail=True)), runner.run(job("b"))]
    futures = [asyncio.ensure_future(j) for j in jobs]
    await asyncio.sleep(0.05)
    transactions.gate.set()
    await blocker
    results = await asyncio.gather(*futures, return_exceptions=True)
    assert results[0] == "A" and results[2] == "B"
    assert isinstance(results[1], ValueError)
    # The failed batch committed nothing; each good job then committed on its own.
    assert ["a"] in transactions.committed and ["b"] in transactions.committed
    assert ["a", "bad", "b"] not in transactions.committed
    runner.close()


def test_sync_callers_and_close() -> None:
    transactions = FakeTransactions()
    runner = committer(transactions)
    assert runner.run_sync(job("x")) == "X"
    with pytest.raises(ValueError, match="boom"):
        runner.run_sync(job("boom", fail=True))
    runner.close()
    with pytest.raises(RuntimeError, match="closed"):
        runner.run_sync(job("late"))


async def test_a_cancelled_caller_does_not_break_delivery() -> None:
    transactions = FakeTransactions()
    runner = committer(transactions)
    transactions.gate.clear()
    doomed = asyncio.ensure_future(runner.run(job("doomed")))
    survivor = asyncio.ensure_future(runner.run(job("survivor")))
    await asyncio.sleep(0.05)
    doomed.cancel()
    transactions.gate.set()
    assert await survivor == "SURVIVOR"
    runner.close()
