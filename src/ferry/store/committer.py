"""Group commit: units of work from many requests share one transaction and one commit.

A small pool of threads each takes whatever jobs are waiting (up to `max_batch`), runs them in
order inside one transaction and commits once. Under load this turns N commits into one; when
idle a job runs alone at once, so nothing waits for a timer. If anything in a batch fails, the
batch is rolled back and each job is run again in a transaction of its own, so one job's error
never undoes another's work: a unit of work must therefore have no effect outside the database.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from sqlalchemy import Connection

__all__ = ["GroupCommitter", "Work"]

T = TypeVar("T")
Work = Callable[[Connection], T]
"""A unit of work: runs inside a transaction on the connection it is given."""

log = logging.getLogger(__name__)


class _Job:
    __slots__ = ("future", "work")

    def __init__(self, work: Work[Any]) -> None:
        self.work = work
        self.future: Future[Any] = Future()


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
        self._jobs: deque[_Job] = deque()
        self._ready = threading.Condition()
        self._closed = False
        self._threads = [
            threading.Thread(target=self._serve, name=f"{name}-{i}", daemon=True)
            for i in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, work: Work[T]) -> Future[T]:
        job = _Job(work)
        with self._ready:
            if self._closed:
                raise RuntimeError("the database is closed")
            self._jobs.append(job)
            self._ready.notify()
        return job.future

    def close(self) -> None:
        """Finish the jobs already submitted, then stop the threads."""
        with self._ready:
            self._closed = True
            self._ready.notify_all()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join()

    def _serve(self) -> None:
        while True:
            with self._ready:
                while not self._jobs and not self._closed:
                    self._ready.wait()
                if not self._jobs:
                    return
                count = min(len(self._jobs), self._max_batch)
                batch = [self._jobs.popleft() for _ in range(count)]
            batch = [job for job in batch if job.future.set_running_or_notify_cancel()]
            if batch:
                self._run_batch(batch)

    def _run_batch(self, batch: list[_Job]) -> None:
        if len(batch) == 1:
            self._run_alone(batch[0])
            return
        try:
            with self._transaction() as conn:
                results = [job.work(conn) for job in batch]
        except BaseException:
            # Someone's work failed (or the commit did): give each job a transaction of its own.
            for job in batch:
                self._run_alone(job)
            return
        for job, result in zip(batch, results, strict=True):
            job.future.set_result(result)

    def _run_alone(self, job: _Job) -> None:
        try:
            with self._transaction() as conn:
                result = job.work(conn)
        except BaseException as exc:  # delivered to the waiting caller, never lost
            job.future.set_exception(self._translate(exc))
        else:
            job.future.set_result(result)
