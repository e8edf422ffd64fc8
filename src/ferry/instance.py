"""The running instance's record in its data folder: which process serves what, where.

`ferry serve …` and `ferry start` write `<data>/instance.json` once they listen and remove it
when they stop; `ferry queue …` (and later `ferry env`) read it to find the services.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ferry.errors import InstanceNotRunning
from ferry.files import replace_file

__all__ = ["Instance", "instance_file", "pid_alive"]


def instance_file(data: Path) -> Path:
    return data / "instance.json"


@dataclass
class Instance:
    pid: int
    services: dict[str, str] = field(default_factory=dict)
    """Service name ("queues", "queues_tls", "agents", "identity", …) → its base URL."""
    secrets: dict[str, str] = field(default_factory=dict)
    """What only this instance's own clients may know ("identity_header"): the file is
    readable by its owner only."""

    def write(self, data: Path) -> None:
        data.mkdir(parents=True, exist_ok=True)
        replace_file(instance_file(data), json.dumps(asdict(self), indent=2).encode(), private=True)

    @classmethod
    def read(cls, data: Path) -> Instance:
        path = instance_file(data)
        try:
            record = json.loads(path.read_text())
            instance = cls(
                pid=int(record["pid"]),
                services=dict(record["services"]),
                secrets=dict(record.get("secrets") or {}),
            )
        except FileNotFoundError:
            raise InstanceNotRunning(
                f"no running Ferry instance uses {data} (start one with `ferry start` "
                "or `ferry serve queues`)"
            ) from None
        except (ValueError, KeyError, TypeError) as exc:
            raise InstanceNotRunning(f"{path} is not a Ferry instance record: {exc}") from None
        if not pid_alive(instance.pid):
            raise InstanceNotRunning(
                f"the Ferry instance recorded in {path} (pid {instance.pid}) is not running"
            )
        return instance

    @staticmethod
    def remove(data: Path, pid: int) -> None:
        """Remove the record if it is still this process's."""
        path = instance_file(data)
        try:
            if json.loads(path.read_text()).get("pid") == pid:
                path.unlink()
        except (OSError, ValueError):
            pass


def pid_alive(pid: int | None) -> bool:
    """Whether the process runs (a zombie, exited but not yet reaped, does not)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError, IndexError):
        status = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return status != "Z"
    return True
