"""`ferry start --workers N`: N `ferry worker` processes work runs beside the serving one
(whose engine works them too), so that runs use more than the one core a Python process can.

They share the store (the data folder's SQLite file, or --database-url) and hear of each
other's writes through its signals; a worker that exits is started again, and all of them
are stopped with the serving process."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

from ferry.settings import Settings

__all__ = ["PARENT", "WorkerProcesses"]

PARENT = "FERRY_WORKER_OF"
"""Set for a worker `ferry start` runs: the pid of that process, which the worker dies with."""

log = logging.getLogger("ferry.workers")

_RESTART_DELAY = 1.0
_STOP_GRACE = 10.0


class WorkerProcesses:
    def __init__(self, settings: Settings, count: int, config: Path | None = None) -> None:
        self.args = [sys.executable, "-m", "ferry", "worker", "--data", str(settings.data)]
        if settings.database_url:
            self.args += ["--database-url", settings.database_url]
        if config is not None:
            self.args += ["--config", str(config)]
        self.count = count
        self.logs = settings.data / "workers"
        self._processes: list[subprocess.Popen[bytes]] = []
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None

    def start(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        self._processes = [self._spawn(index) for index in range(self.count)]
        self._watcher = threading.Thread(target=self._watch, name="ferry-workers", daemon=True)
        self._watcher.start()

    def _spawn(self, index: int) -> subprocess.Popen[bytes]:
        with (self.logs / f"worker-{index}.log").open("ab") as out:
            return subprocess.Popen(
                self.args,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, "NO_COLOR": "1", PARENT: str(os.getpid())},
            )

    def _watch(self) -> None:
        while not self._stopping.wait(_RESTART_DELAY):
            for index, process in enumerate(self._processes):
                if process.poll() is not None and not self._stopping.is_set():
                    log.warning(
                        "run worker %d (pid %d) exited with %s; starting it again (see %s)",
                        index,
                        process.pid,
                        process.returncode,
                        self.logs / f"worker-{index}.log",
                    )
                    self._processes[index] = self._spawn(index)

    def stop(self) -> None:
        """SIGTERM each (a worker leaves the runs it holds to their leases), then wait."""
        self._stopping.set()
        for process in self._processes:
            if process.poll() is None:
                process.terminate()
        for process in self._processes:
            try:
                process.wait(_STOP_GRACE)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
