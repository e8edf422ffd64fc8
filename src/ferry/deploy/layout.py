"""Where an environment keeps its things, and the two records it writes.

`environment.json` is what `ferry up` decided (ports, settings, the numbered deployments and
which one is current); `supervisor.json` is what the supervisor reports (its pid, each
child's pid and status). Both are replaced atomically, so a reader never sees half a file.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from ferry.deploy.errors import DeployError, EnvironmentNotFound
from ferry.files import replace_file

__all__ = [
    "ChildState",
    "Deployment",
    "EnvironmentRecord",
    "Layout",
    "Ports",
    "SupervisorState",
    "environment_name",
    "environments",
]

_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def environment_name(name: str | None, app: Path) -> str:
    """`--name` as given (checked), or one made from the app folder's name."""
    if name is not None:
        if not _NAME.match(name):
            raise DeployError(
                f"environment name {name!r} must be 1-63 lowercase letters, digits or hyphens, "
                "starting with a letter or digit"
            )
        return name
    made = re.sub(r"[^a-z0-9]+", "-", app.resolve().name.lower()).strip("-")[:63]
    return made or "app"


class Ports(BaseModel):
    """Fixed ports: a deployment's URLs stay the same across restarts and redeploys."""

    host: str = "127.0.0.1"
    queue_port: int = 10001
    queue_tls_port: int = 10011
    identity_port: int = 10013
    agents_port: int = 8443
    http_port: int = 7071


class Deployment(BaseModel):
    number: int
    created: str
    source: str
    files: int
    bytes: int
    sha256: str
    python: str
    """The key of the Python environment its requirements were installed into."""
    app_settings: dict[str, str] = Field(default_factory=dict)
    """The Values of the app's local.settings.json when it was packaged."""


class EnvironmentRecord(BaseModel):
    name: str
    ports: Ports = Field(default_factory=Ports)
    settings: dict[str, str] = Field(default_factory=dict)
    """App settings given with `ferry up --setting NAME=VALUE`; they win over the app's."""
    config: str | None = None
    """The ferry.toml the platform reads, if any."""
    current: int | None = None
    deployments: list[Deployment] = Field(default_factory=list)

    def deployment(self, number: int | None = None) -> Deployment:
        wanted = self.current if number is None else number
        for deployment in self.deployments:
            if deployment.number == wanted:
                return deployment
        raise DeployError(f"environment '{self.name}' has no deployment {wanted}")


class ChildState(BaseModel):
    pid: int | None = None
    status: Literal["starting", "running", "backoff", "stopped", "failed"] = "stopped"
    deployment: int | None = None
    restarts: int = 0
    failures: int = 0
    """Exits before becoming ready, for the deployment it was starting."""
    since: float | None = None
    message: str | None = None


class SupervisorState(BaseModel):
    pid: int
    status: Literal["starting", "running", "switching", "stopping", "failed"] = "starting"
    platform: ChildState = Field(default_factory=ChildState)
    host: ChildState = Field(default_factory=ChildState)
    switch_seconds: float | None = None
    """How long the last redeploy left the app's HTTP endpoints without a host."""


@dataclass(frozen=True)
class Layout:
    root: Path

    @classmethod
    def of(cls, data: Path, name: str) -> Layout:
        return cls(data.resolve() / "environments" / name)

    @property
    def name(self) -> str:
        return self.root.name

    @property
    def record_file(self) -> Path:
        return self.root / "environment.json"

    @property
    def state_file(self) -> Path:
        return self.root / "supervisor.json"

    @property
    def platform_data(self) -> Path:
        return self.root / "platform"

    @property
    def host_data(self) -> Path:
        return self.root / "host"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def log(self, source: str) -> Path:
        return self.logs / f"{source}.log"

    def package(self, number: int) -> Path:
        return self.root / "deployments" / str(number)

    def app(self, number: int) -> Path:
        return self.package(number) / "app"

    def python_env(self, key: str) -> Path:
        return self.root / "python" / key

    def exists(self) -> bool:
        return self.record_file.exists()

    def read_record(self) -> EnvironmentRecord:
        document = _read_json(self.record_file)
        if document is None:
            raise EnvironmentNotFound(f"no environment '{self.name}' in {self.root.parent}")
        try:
            return EnvironmentRecord.model_validate(document)
        except ValidationError as exc:
            raise DeployError(f"{self.record_file} is damaged: {exc.errors()[0]['msg']}") from None

    def write_record(self, record: EnvironmentRecord) -> None:
        _write_json(self.record_file, record.model_dump())

    def read_state(self) -> SupervisorState | None:
        """The supervisor's report, or None when no supervisor has written one."""
        document = _read_json(self.state_file)
        if document is None:
            return None
        try:
            return SupervisorState.model_validate(document)
        except ValidationError:
            return None

    def write_state(self, state: SupervisorState) -> None:
        _write_json(self.state_file, state.model_dump())

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """One `ferry up`/`ferry down` at a time per environment, across processes."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def environments(data: Path) -> list[Layout]:
    """Every environment in the data folder, by name."""
    folder = data.resolve() / "environments"
    if not folder.is_dir():
        return []
    return [
        Layout(path)
        for path in sorted(folder.iterdir())
        if path.is_dir() and (path / "environment.json").exists()
    ]


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise DeployError(f"cannot read {path}: {exc}") from None


def _write_json(path: Path, document: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    replace_file(path, json.dumps(document, indent=2).encode())
