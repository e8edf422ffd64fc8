"""`ferry up`, `ferry down [--purge]` and `ferry status`, as operations the CLI prints."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
from sqlalchemy import Connection, func, select

from ferry.deploy.errors import DeployError, StartFailed
from ferry.deploy.layout import (
    Deployment,
    EnvironmentRecord,
    Layout,
    SupervisorState,
    environment_name,
    environments,
)
from ferry.deploy.package import build_package, collect_files
from ferry.deploy.pythonenv import ensure_environment, environment_key
from ferry.functions.keys import KEYS_FILE, load_keys
from ferry.instance import pid_alive

__all__ = [
    "DownResult",
    "EnvironmentStatus",
    "FunctionUrl",
    "UpResult",
    "down",
    "parse_settings",
    "status",
    "up",
]

Progress = Callable[[str], None]
T = TypeVar("T")

UP_TIMEOUT = 120.0
STOP_TIMEOUT = 75.0
"""Beyond the host's 30 s shutdown grace (and the platform's), before `down` kills."""


@dataclass(frozen=True)
class FunctionUrl:
    name: str
    trigger: str
    url: str | None
    """With `?code=` holding the function's default key, for HTTP-triggered functions."""


@dataclass(frozen=True)
class UpResult:
    name: str
    deployment: Deployment
    redeployed: bool
    switch_seconds: float | None
    services: dict[str, str]
    functions: list[FunctionUrl]


@dataclass(frozen=True)
class DownResult:
    name: str
    stopped: bool
    purged: bool
    deleted: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class EnvironmentStatus:
    name: str
    status: str
    deployment: int | None
    deployments: int
    supervisor: int | None
    platform: dict[str, Any]
    host: dict[str, Any]
    services: dict[str, str]
    functions: list[FunctionUrl]
    queues: dict[str, int]
    agents: int
    runs_in_flight: int


def parse_settings(pairs: list[str]) -> dict[str, str]:
    """`NAME=VALUE` pairs, as `az functionapp config appsettings set --settings` takes them."""
    settings: dict[str, str] = {}
    for pair in pairs:
        name, equals, value = pair.partition("=")
        if not equals or not name.strip():
            raise DeployError(f"--setting takes NAME=VALUE, not {pair!r}")
        settings[name.strip()] = value
    return settings


def up(
    data: Path,
    app: Path,
    *,
    name: str | None,
    ports: dict[str, Any],
    settings: dict[str, str],
    config: Path | None,
    progress: Progress,
) -> UpResult:
    """Package the app as the next numbered deployment, install its requirements, and run it
    under the environment's supervisor (started if needed, else told to switch)."""
    app = app.resolve()
    layout = Layout.of(data, environment_name(name, app))
    collect_files(app)  # refuse a folder that is not an app before anything is written
    if any(port == 0 for port in ports.values()):
        raise DeployError("a deployment needs fixed ports (0 would change them on restart)")
    with layout.locked():
        record = layout.read_record() if layout.exists() else EnvironmentRecord(name=layout.name)
        record.ports = record.ports.model_copy(update=ports)
        record.settings.update(settings)
        if config is not None:
            record.config = str(config.resolve())
        number = max((d.number for d in record.deployments), default=0) + 1
        shutil.rmtree(layout.package(number), ignore_errors=True)
        package = build_package(app, layout.package(number))
        progress(
            f"packaged {package.files} files ({package.bytes:,} bytes) from {app} "
            f"as deployment {number}"
        )
        key = environment_key(package.app)
        started = time.monotonic()
        ensure_environment(layout.python_env(key), package.app, layout.log("pip"))
        progress(f"Python environment {key} ready ({time.monotonic() - started:.1f} s)")
        deployment = Deployment(
            number=number,
            created=datetime.now(UTC).isoformat(timespec="seconds"),
            source=str(app),
            files=package.files,
            bytes=package.bytes,
            sha256=package.sha256,
            python=key,
            app_settings=package.app_settings,
        )
        previous = record.current
        record.deployments.append(deployment)
        record.current = number
        layout.write_record(record)
        state = layout.read_state()
        redeployed = state is not None and pid_alive(state.pid)
        if redeployed:
            assert state is not None
            progress(f"switching from deployment {previous} to {number} (draining the host)")
            os.kill(state.pid, signal.SIGHUP)
        else:
            _stop(layout, progress)  # what a supervisor killed with -9 left running, if any
            _launch_supervisor(layout)
            progress("supervisor started; waiting for the platform and the host")
        final = _wait_until_serving(layout, number)
        return UpResult(
            layout.name,
            deployment,
            redeployed,
            final.switch_seconds if redeployed else None,
            _services(record),
            _functions(layout, record),
        )


def down(data: Path, name: str, *, purge: bool, progress: Progress) -> DownResult:
    """Stop the environment's processes; with `purge`, delete everything it holds."""
    layout = Layout.of(data, name)
    layout.read_record()  # an unknown name is refused before the lock makes its folder
    with layout.locked():
        record = layout.read_record()
        stopped = _stop(layout, progress)
        if not purge:
            return DownResult(record.name, stopped, False)
        deleted = _inventory(layout, record)
        shutil.rmtree(layout.root)
        with contextlib.suppress(OSError):
            layout.root.parent.rmdir()  # `environments/`, if that was the last one
        return DownResult(record.name, stopped, True, deleted)


def status(data: Path, name: str | None = None) -> list[EnvironmentStatus]:
    layouts = [Layout.of(data, name)] if name is not None else environments(data)
    return [_status(layout) for layout in layouts]


# -- the supervisor ----------------------------------------------------------------------


def _launch_supervisor(layout: Layout) -> None:
    """Start the supervisor in a session of its own, so that it outlives this command."""
    log = layout.log("supervisor")
    log.parent.mkdir(parents=True, exist_ok=True)
    layout.state_file.unlink(missing_ok=True)
    descriptor = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.posix_spawn(
            sys.executable,
            [sys.executable, "-m", "ferry", "supervise", str(layout.root)],
            dict(os.environ),
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, descriptor, 1),
                (os.POSIX_SPAWN_DUP2, descriptor, 2),
            ],
            setsid=True,
        )
    finally:
        os.close(descriptor)


def _wait_until_serving(layout: Layout, number: int) -> SupervisorState:
    deadline = time.monotonic() + UP_TIMEOUT
    seen_supervisor = False
    while time.monotonic() < deadline:
        state = layout.read_state()
        if state is not None:
            seen_supervisor = True
            host = state.host
            if state.status == "running" and host.deployment == number:
                return state
            if state.status == "failed":
                raise StartFailed(
                    f"the platform of '{layout.name}' did not start: "
                    f"{_tail(layout.log('platform'))}"
                )
            if host.deployment == number and host.failures > 0:
                raise StartFailed(
                    f"deployment {number} of '{layout.name}' did not start "
                    f"({host.message}): {_tail(layout.log('host'))}. The supervisor keeps "
                    "retrying; fix the app and run `ferry up` again, or `ferry down`"
                )
            if not pid_alive(state.pid):
                raise StartFailed(
                    f"the supervisor of '{layout.name}' exited: {_tail(layout.log('supervisor'))}"
                )
        time.sleep(0.1)
    where = "supervisor" if not seen_supervisor else "host"
    raise StartFailed(
        f"'{layout.name}' was not serving deployment {number} after {UP_TIMEOUT:g} s: "
        f"{_tail(layout.log(where))}"
    )


def _stop(layout: Layout, progress: Progress) -> bool:
    """SIGTERM to the supervisor (which drains the host and stops both children), then, if
    it is gone or does not finish in time, SIGKILL to whatever is left."""
    state = layout.read_state()
    if state is None:
        return False
    children = [state.host.pid, state.platform.pid]
    stopped = False
    if pid_alive(state.pid):
        progress(f"stopping the supervisor ({state.pid}): draining the host first")
        os.kill(state.pid, signal.SIGTERM)
        stopped = True
        deadline = time.monotonic() + STOP_TIMEOUT
        while pid_alive(state.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if pid_alive(state.pid):
            progress("the supervisor did not stop in time; killing it")
            os.kill(state.pid, signal.SIGKILL)
    for pid in children:
        if pid is not None and pid_alive(pid) and _is_ferry(pid):
            progress(f"process {pid} was left without its supervisor; killing it")
            os.kill(pid, signal.SIGKILL)
            stopped = True
    layout.state_file.unlink(missing_ok=True)
    return stopped


def _is_ferry(pid: int) -> bool:
    """Guard against a pid recorded long ago and since given to another program."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return True  # no /proc (macOS): trust the record
    return b"ferry" in command


def _tail(log: Path, lines: int = 3) -> str:
    try:
        text = log.read_text(errors="replace").strip().splitlines()
    except OSError:
        return f"(no {log.name})"
    shown = " / ".join(line.strip() for line in text[-lines:] if line.strip())
    return f"{shown or '(empty log)'} (more in {log})"


# -- what an environment holds -------------------------------------------------------------


def _services(record: EnvironmentRecord) -> dict[str, str]:
    p = record.ports
    host = f"[{p.host}]" if ":" in p.host else p.host
    return {
        "functions": f"http://{host}:{p.http_port}",
        "queues": f"http://{host}:{p.queue_port}/devstoreaccount1",
        "queues_tls": f"https://{host}:{p.queue_tls_port}/devstoreaccount1",
        "agents": f"https://{host}:{p.agents_port}/api/projects/default",
        "identity": f"http://{host}:{p.identity_port}",
    }


def _functions(layout: Layout, record: EnvironmentRecord) -> list[FunctionUrl]:
    """The host's functions (from its admin API, with the master key), each HTTP function's
    URL carrying its default function key, as `func azure functionapp list-functions
    --show-keys` prints them."""
    if not (layout.host_data / KEYS_FILE).exists():
        return []
    keys = load_keys(layout.host_data, [])
    try:
        response = httpx.get(
            f"{_services(record)['functions']}/admin/functions",
            headers={"x-functions-key": keys.master},
            timeout=5,
        )
        response.raise_for_status()
        listed = response.json()
    except (httpx.HTTPError, ValueError):
        return []
    functions = []
    for entry in listed:
        name, url = str(entry["name"]), entry.get("invoke_url_template")
        if url:
            key = keys.functions.get(name.lower(), {}).get("default")
            url = f"{url}?code={key}" if key else url
        functions.append(FunctionUrl(name, str(entry["trigger"]), url))
    return functions


def _inventory(layout: Layout, record: EnvironmentRecord) -> dict[str, int]:
    """What purging the environment deletes, counted before it goes."""
    deleted = {
        "deployments": len(record.deployments),
        "python environments": _count_dirs(layout.root / "python"),
    }
    deleted.update(_stored(layout.platform_data))
    if (layout.host_data / KEYS_FILE).exists():
        keys = load_keys(layout.host_data, [])
        deleted["function keys"] = 1 + len(keys.host) + sum(map(len, keys.functions.values()))
    else:
        deleted["function keys"] = 0
    identity = [
        path
        for folder in ("identity", "tls")
        for path in (layout.platform_data / folder).glob("*")
        if path.is_file()
    ]
    deleted["identity files (keys, certificates)"] = len(identity)
    deleted["log files"] = len(list(layout.logs.glob("*.log"))) if layout.logs.is_dir() else 0
    return deleted


def _count_dirs(folder: Path) -> int:
    return sum(1 for path in folder.iterdir() if path.is_dir()) if folder.is_dir() else 0


def _read_platform(platform: Path, work: Callable[[Connection], T], empty: T) -> T:
    """`work` on the platform's store (read-only), or `empty` when it has none yet."""
    from ferry.store import open_database

    if not (platform / "ferry.db").exists():
        return empty
    database = open_database(database_url=None, data=platform, migrate=False)
    try:
        return database.read_sync(work)
    finally:
        database.close()


def _stored(platform: Path) -> dict[str, int]:
    """Counts of the platform store's queues, messages, agents, conversations, items and
    runs (classic threads, messages and runs among them; v2 responses are runs)."""
    from ferry.store.schema import agents, conversations, items, queue_messages, queues, runs

    counted = {
        "queues": select(func.count()).select_from(queues),
        "queue messages": select(func.count()).select_from(queue_messages),
        "agents": select(func.count()).select_from(agents),
        "conversations and threads": select(func.count()).select_from(conversations),
        "messages and other items": select(func.count()).select_from(items),
        "runs and responses": select(func.count()).select_from(runs),
    }

    def count(conn: Connection) -> dict[str, int]:
        return {label: int(conn.execute(query).scalar_one()) for label, query in counted.items()}

    return _read_platform(platform, count, dict.fromkeys(counted, 0))


def _platform_view(platform: Path) -> tuple[dict[str, int], int, int]:
    """Each queue's depth (`account/name` → messages), the agents, and the runs in flight."""
    from ferry.runs.status import TERMINAL
    from ferry.store.schema import agents, queue_messages, queues, runs

    def view(conn: Connection) -> tuple[dict[str, int], int, int]:
        depth = (
            select(queues.c.account, queues.c.name, func.count(queue_messages.c.id))
            .select_from(queues.outerjoin(queue_messages))
            .group_by(queues.c.account, queues.c.name)
            .order_by(queues.c.account, queues.c.name)
        )
        depths = {f"{a}/{n}": int(c) for a, n, c in conn.execute(depth)}
        known = conn.execute(select(func.count()).select_from(agents)).scalar_one()
        flying = conn.execute(
            select(func.count()).select_from(runs).where(runs.c.status.not_in(list(TERMINAL)))
        ).scalar_one()
        return depths, int(known), int(flying)

    nothing: tuple[dict[str, int], int, int] = ({}, 0, 0)
    return _read_platform(platform, view, nothing)


def _status(layout: Layout) -> EnvironmentStatus:
    record = layout.read_record()
    state = layout.read_state()
    live = state if state is not None and pid_alive(state.pid) else None
    depths, agents, flying = _platform_view(layout.platform_data)
    return EnvironmentStatus(
        name=record.name,
        status=live.status if live else "stopped",
        deployment=record.current,
        deployments=len(record.deployments),
        supervisor=live.pid if live else None,
        platform=live.platform.model_dump() if live else {},
        host=live.host.model_dump() if live else {},
        services=_services(record),
        functions=_functions(layout, record) if live else [],
        queues=depths,
        agents=agents,
        runs_in_flight=flying,
    )
