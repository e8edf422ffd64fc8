"""The servers compared: Azurite (installed by `make bench` into .bench/azurite) and Ferry on
its embedded SQLite store and on PostgreSQL, each started fresh in its own data folder."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg

from ferry.queues.auth import DEV_ACCOUNT
from ferry.spawn import spawn

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".bench"
AZURITE = WORK / "azurite" / "node_modules" / ".bin" / "azurite-queue"
POSTGRES_ADMIN = os.environ.get(
    "FERRY_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


@dataclass
class Server:
    """One running queue service under test."""

    label: str
    url: str
    """Base URL of the development account, e.g. http://127.0.0.1:PORT/devstoreaccount1."""
    process: subprocess.Popen[bytes]
    restart_args: dict[str, object] = field(default_factory=dict)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def azurite_version() -> str:
    package = WORK / "azurite" / "node_modules" / "azurite" / "package.json"
    import json

    return str(json.loads(package.read_text())["version"]) if package.exists() else "?"


def start_azurite(data: Path, port: int | None = None) -> Server:
    """Azurite's queue service with its default (disk) persistence. The current SDK sends
    x-ms-version 2026-10-06, which Azurite refuses unless told to skip the version check."""
    if not AZURITE.exists():
        raise SystemExit("Azurite is missing: run `make bench` (it installs it into .bench/)")
    data.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    log = open(data / "azurite.log", "ab")  # noqa: SIM115 - handed to the child
    process = subprocess.Popen(
        [
            str(AZURITE),
            "--queueHost",
            "127.0.0.1",
            "--queuePort",
            str(port),
            "--location",
            str(data),
            "--skipApiVersionCheck",
            "--silent",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    log.close()
    url = f"http://127.0.0.1:{port}/{DEV_ACCOUNT}"
    _wait_listening(port, process)
    return Server(f"Azurite {azurite_version()}", url, process, {"data": data, "port": port})


def start_ferry(data: Path, database_url: str | None = None) -> Server:
    args = ["serve", "queues", "--port", "0"]
    if database_url:
        args += ["--database-url", database_url]
    child = spawn(args, data)
    label = "Ferry (PostgreSQL)" if database_url else "Ferry (SQLite)"
    return Server(
        label, child.url("queues"), child.process, {"data": data, "database_url": database_url}
    )


def restart(server: Server) -> Server:
    if server.label.startswith("Azurite"):
        return start_azurite(**server.restart_args)  # type: ignore[arg-type]
    return start_ferry(**server.restart_args)  # type: ignore[arg-type]


def fresh_postgres_database() -> str:
    name = f"ferry_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return POSTGRES_ADMIN.rsplit("/", 1)[0] + f"/{name}"


def drop_postgres_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fresh_folder(name: str) -> Path:
    folder = WORK / "runs" / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def _wait_listening(port: int, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server on port {port} exited with {process.returncode}")
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on port {port} after {timeout} s")
