"""Group commit: units of work from many requests share one transaction and one commit.

A small pool of threads each takes whatever jobs are waiting (up to `max_batch`), runs them in
order inside one transaction and commits once. Under load this turns N commits into one; when
idle a job runs alone at once, so nothing waits for a timer. If anything in a batch fails, the
batch is rolled back and each job is run again in a transaction of its own, so one job's error
never undoes another's work: a unit of work must therefore have no effect outside the database.

Outcomes reach asyncio callers with one `call_soon_threadsafe` per batch and event loop, and
synchronous callers through a `concurrent.futures.Future`.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from sqlalchemy import Connection

__all__ = ["GroupCommitter", "Work"]

T = TypeVar("T")
Work = Callable[[Connection], T]
"""A unit of work: runs inside a transaction on the connection it is given."""

_Outcome = tuple[bool, Any]
"""(succeeded, result or exception)."""


class _Job:
    __slots__ = ("future", "loop", "work")

    def __init__(
        self,
        work: Work[Any],
        future: asyncio.Future[Any] | Future[Any],
        loop: asyncio.AbstractEventLoop | None,
    ) -> None:
        self.work = work
        self.future = future
        self.loop = loop


class GroupCommitter:
    """Runs units of work on `threads` threads, batching those that queue up."""

    def __init__(
        self,
        transaction: Callable[[], Any],
        *,
        threads: int,
        max_batch: int,
        name: str,
        translate: Callable[[BaseException], BaseException],
    ) -> None:
        """`transaction()` returns a context manager yielding a Connection inside a
        transaction that commits on normal exit; `translate` turns driver errors into
        Ferry's and leaves other exceptions as they are."""
        self._transaction = transaction
        self._max_batch = max_batch
        self._translate = translate
        # A SimpleQueue (C, lock-free for the putter) rather than a Condition: submitting is
        # on the event loop's hot path, once per unit of work.
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._closing = threading.Lock()
        self._closed = False
        self._threads = [
            threading.Thread(target=self._serve, name=f"{name}-{i}", daemon=True)
            for i in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    async def run(self, work: Work[T]) -> T:
        """Run `work` and wait for its outcome without blocking the event loop."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._enqueue(_Job(work, future, loop))
        return await future

    def run_sync(self, work: Work[T]) -> T:
        future: Future[T] = Future()
        self._enqueue(_Job(work, future, None))
        return future.result()

    def _enqueue(self, job: _Job) -> None:
        with self._closing:  # so that no job lands behind the threads' stop marks
            if self._closed:
                raise RuntimeError("the database is closed")
            self._jobs.put(job)

    def close(self) -> None:
        """Finish the jobs already submitted, then stop the threads."""
        with self._closing:
            if self._closed:
                return
            self._closed = True
        for _thread in self._threads:
            self._jobs.put(None)  # one stop mark per thread, behind every job submitted
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join()

    def _serve(self) -> None:
        while True:
            first = self._jobs.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < self._max_batch:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stop = True
                    break
                batch.append(job)
            self._deliver(batch, self._run_batch(batch))
            if stop:
                return

    def _run_batch(self, batch: list[_Job]) -> list[_Outcome]:
        if len(batch) > 1:
            try:
                with self._transaction() as conn:
                    return [(True, job.work(conn)) for job in batch]
            except BaseException:
                pass  # each job is retried alone just below
        # One job, or a batch where something failed (a job, or the commit itself): give each
        # job a transaction of its own, so a failure reaches only its own caller.
        return [self._run_alone(job) for job in batch]

    def _run_alone(self, job: _Job) -> _Outcome:
        try:
            with self._transaction() as conn:
                return True, job.work(conn)
        except BaseException as exc:  # delivered to the waiting caller, never lost
            return False, self._translate(exc)

    @staticmethod
    def _deliver(batch: list[_Job], outcomes: list[_Outcome]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Job, _Outcome]]] = defaultdict(list)
        for job, outcome in zip(batch, outcomes, strict=True):
            if job.loop is None:
                _settle([(job, outcome)])
            else:
                by_loop[job.loop].append((job, outcome))
        for loop, settled in by_loop.items():
            # A closed loop raises RuntimeError: nobody is waiting there any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle, settled)


def _settle(settled: list[tuple[_Job, _Outcome]]) -> None:
    for job, (ok, value) in settled:
        if job.future.done():  # an asyncio caller that was cancelled meanwhile
            continue
        if ok:
            job.future.set_result(value)
        else:
            job.future.set_exception(value)
