"""Start a `ferry` server in a child process and wait until it listens.

Used by `ferry demo`, the benchmarks and the tests: the child records its addresses in the
data folder (`ferry.instance`) once its ports listen, which is what this waits for.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ferry.errors import InstanceNotRunning, SpawnError
from ferry.instance import Instance, instance_file

__all__ = ["Child", "spawn"]


@dataclass
class Child:
    process: subprocess.Popen[bytes]
    instance: Instance
    data: Path

    def url(self, service: str) -> str:
        return self.instance.services[service]

    def kill(self) -> None:
        """`kill -9`: no shutdown, no cleanup, as a crash would leave things."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()

    def stop(self, timeout: float = 15) -> int:
        """SIGTERM, as a service manager would send, then wait for a clean exit."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def spawn(
    args: Sequence[str],
    data: Path,
    *,
    timeout: float = 30,
    env: dict[str, str] | None = None,
    log: Path | None = None,
) -> Child:
    """Run `python -m ferry <args> --data <data>` and wait for its instance record. The
    child's output goes to `log` (default `<data>/ferry.log`), never to a pipe nobody reads."""
    record = instance_file(data)
    record.unlink(missing_ok=True)
    data.mkdir(parents=True, exist_ok=True)
    log = log or data / "ferry.log"
    start = log.stat().st_size if log.exists() else 0
    with open(log, "ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "ferry", *args, "--data", str(data)],
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
        )
    command = f"`ferry {' '.join(args)}`"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            with open(log, "rb") as written:
                written.seek(start)
                detail = written.read().decode(errors="replace").strip()
            raise SpawnError(f"{command} exited with {process.returncode}: {detail}")
        if record.exists():
            try:
                instance = Instance.read(data)
            except InstanceNotRunning:
                pass
            else:
                if instance.pid == process.pid:
                    return Child(process, instance, data)
        time.sleep(0.02)
    process.kill()
    process.wait()
    raise SpawnError(f"{command} did not start listening within {timeout:.0f} s (see {log})")
