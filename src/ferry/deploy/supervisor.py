"""The supervisor: one detached process per environment that keeps its two children running.

- the platform (`ferry serve all`): queue service, token endpoint, agent service and run engine;
  it stays up across redeploys, so clients putting messages or creating runs never notice one;
- the app's host (`ferry functions --enable-auth`) for the current deployment, run by the
  Python of the deployment's own environment.

A child that exits on its own is started again after a back-off (1 s, doubling to 30 s, back
to 1 s once it has run for a minute). SIGHUP means "the current deployment changed": the old
host is drained (it fetches no more messages and gets `shutdown_grace` seconds to finish the
invocations it runs; any still running are made visible again) and only then the new one is
started, so no message is lost and none is handled by two versions at once. SIGTERM stops
both children, host first, and ends the supervisor.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from ferry.deploy.layout import ChildState, EnvironmentRecord, Layout, SupervisorState
from ferry.deploy.pythonenv import environment_python
from ferry.errors import InstanceNotRunning
from ferry.identity.clientenv import client_environment
from ferry.identity.local import CA_VARIABLES
from ferry.instance import Instance
from ferry.settings import Settings

__all__ = ["Supervisor", "host_environment"]

BACKOFF_START = 1.0
BACKOFF_MAX = 30.0
HEALTHY_AFTER = 60.0
"""A child that has run this long is healthy again: its next crash waits BACKOFF_START."""
STOP_MARGIN = 15.0
"""Seconds beyond the host's shutdown grace before a child that ignores SIGTERM is killed."""
TICK = 0.1

PROVISIONED = (
    "AzureWebJobsStorage",
    "STORAGE_CONNECTION__queueServiceUri",
    "PROJECT_ENDPOINT",
    "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",
)
"""What the platform provides to the app, as azd's provisioning sets the app settings of a
function app: they replace the local.settings.json values that point at a local emulator."""


def host_environment(
    record: EnvironmentRecord, platform_data: Path, base: dict[str, str]
) -> dict[str, str]:
    """The app's environment: the deployment's app settings, then what the platform provides
    (its queue service, agents endpoint, identity endpoint and CA bundle), then the user's
    `--setting`s."""
    deployment = record.deployment()
    provided = client_environment(platform_data)
    environment = {**base, **deployment.app_settings}
    environment.update(
        (name, value)
        for name, value in provided.items()
        if name in PROVISIONED or name in CA_VARIABLES
    )
    environment["AZURE_FUNCTIONS_ENVIRONMENT"] = "Production"
    environment.update(record.settings)
    return environment


@dataclass
class _Child:
    """One supervised process and its bookkeeping."""

    role: str
    data: Path
    state: ChildState
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    backoff: float = BACKOFF_START
    restart_at: float | None = None
    wanted: bool = True
    generation: int = 0
    """For the host: the platform start whose environment (identity secret) it was given."""

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


class Supervisor:
    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.record = layout.read_record()
        self.state = SupervisorState(pid=os.getpid())
        self.platform = _Child("platform", layout.platform_data, self.state.platform)
        self.host = _Child("host", layout.host_data, self.state.host)
        self.stopping = False
        self.switch_requested = False
        self.settings = Settings.load(Path(self.record.config) if self.record.config else None)

    # -- signals ---------------------------------------------------------------------------

    def _on_stop(self, _signum: int, _frame: FrameType | None) -> None:
        self.stopping = True

    def _on_switch(self, _signum: int, _frame: FrameType | None) -> None:
        self.switch_requested = True

    # -- the loop ---------------------------------------------------------------------------

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        signal.signal(signal.SIGHUP, self._on_switch)
        self._save()
        self._log(f"supervisor {os.getpid()} starting environment '{self.layout.name}'")
        self._start(self.platform)
        while not self.stopping:
            if self.switch_requested:
                self.switch_requested = False
                self._switch()
            for child in (self.platform, self.host):
                self._watch(child)
            if self.platform.state.status == "failed":
                self.state.status = "failed"
                self._save()
                self._stop(self.host)
                self._stop(self.platform)
                return 1
            time.sleep(TICK)
        self.state.status = "stopping"
        self._save()
        self._log("stopping: the host first (drained), then the platform")
        self._stop(self.host)
        self._stop(self.platform)
        self.layout.state_file.unlink(missing_ok=True)
        self._log("stopped")
        return 0

    def _watch(self, child: _Child) -> None:
        now = time.monotonic()
        if child is self.host:
            if self.platform.state.status != "running":
                return  # the host starts once the platform it needs is listening
            if child.running and child.generation != self.platform.generation:
                # The platform was restarted with a new identity secret: the host needs it.
                self._log("platform restarted: restarting the host with its new settings")
                self._stop(child)
                child.wanted = True
        if child.process is None:
            if child.wanted and (child.restart_at is None or now >= child.restart_at):
                child.restart_at = None
                self._start(child)
            return
        code = child.process.poll()
        if code is None:
            if child.state.status == "starting" and self._listening(child):
                child.state.status = "running"
                child.state.message = None
                self._log(f"{child.role} {child.process.pid} is ready")
                if child is self.platform:
                    child.generation += 1
                self._update_status()
                self._save()
            elif child.state.status == "running" and now - child.started >= HEALTHY_AFTER:
                child.backoff = BACKOFF_START
            return
        # It exited on its own: note it, and start it again after the back-off.
        ready = child.state.status == "running"
        child.process = None
        child.state.pid = None
        child.state.restarts += 1
        if not ready:
            child.state.failures += 1
        child.state.message = f"exited with code {code}; see {self.layout.log(child.role)}"
        if child is self.platform and not ready and child.state.failures >= 3:
            child.state.status = "failed"
            self._log(f"platform failed to start three times (exit {code}); giving up")
            self._save()
            return
        child.state.status = "backoff"
        child.restart_at = now + child.backoff
        self._log(f"{child.role} exited with code {code}; starting again in {child.backoff:g} s")
        child.backoff = min(child.backoff * 2, BACKOFF_MAX)
        self._update_status()
        self._save()

    def _update_status(self) -> None:
        if self.state.status in ("stopping", "failed", "switching"):
            return  # set by the step that is under way, which sets the next one itself
        both = self.platform.state.status == "running" and self.host.state.status == "running"
        self.state.status = "running" if both else "starting"

    def _switch(self) -> None:
        """Drain the old host, then start the current deployment's."""
        self.record = self.layout.read_record()
        self.state.status = "switching"
        self._save()
        began = time.monotonic()
        self._log(f"redeploy: draining the host of deployment {self.host.state.deployment}")
        self._stop(self.host)
        self.host.backoff = BACKOFF_START
        self.host.restart_at = None
        self.host.state.failures = 0
        self.host.wanted = True
        self._start(self.host)
        while not self.stopping and self.host.state.status == "starting":
            self._watch(self.host)
            self._watch(self.platform)
            time.sleep(TICK)
        self.state.switch_seconds = round(time.monotonic() - began, 3)
        self.state.status = "starting"
        self._update_status()
        self._log(
            f"redeploy: deployment {self.record.current} took over after "
            f"{self.state.switch_seconds:g} s without a host ({self.host.state.status})"
        )
        self._save()

    # -- children ---------------------------------------------------------------------------

    def _command(self, child: _Child) -> tuple[list[str], dict[str, str]]:
        ports = self.record.ports
        common = ["--data", str(child.data), "--host", ports.host]
        if self.record.config:
            common += ["--config", self.record.config]
        if child is self.platform:
            command = [sys.executable, "-m", "ferry", "serve", "all", *common]
            command += ["--queue-port", str(ports.queue_port)]
            command += ["--queue-tls-port", str(ports.queue_tls_port)]
            command += ["--identity-port", str(ports.identity_port)]
            command += ["--agents-port", str(ports.agents_port)]
            return command, dict(os.environ)
        deployment = self.record.deployment()
        python = environment_python(self.layout.python_env(deployment.python))
        command = [str(python), "-m", "ferry", "functions", *common]
        command += ["--app", str(self.layout.app(deployment.number))]
        command += ["--http-port", str(ports.http_port), "--enable-auth"]
        return command, host_environment(self.record, self.layout.platform_data, dict(os.environ))

    def _start(self, child: _Child) -> None:
        try:
            command, environment = self._command(child)
        except (InstanceNotRunning, OSError) as exc:
            child.state.status = "backoff"
            child.state.message = str(exc)
            child.restart_at = time.monotonic() + child.backoff
            self._save()
            return
        (child.data / "instance.json").unlink(missing_ok=True)
        child.data.mkdir(parents=True, exist_ok=True)
        log = self.layout.log(child.role)
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as output:
            child.process = subprocess.Popen(
                command,
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=environment,
                cwd=self.layout.root,
            )
        child.started = time.monotonic()
        child.state.pid = child.process.pid
        child.state.status = "starting"
        child.state.since = time.time()
        if child is self.host:
            child.state.deployment = self.record.current
            child.generation = self.platform.generation
        self._log(f"{child.role} {child.process.pid} started: {' '.join(command[1:])}")
        self._save()

    def _listening(self, child: _Child) -> bool:
        assert child.process is not None
        try:
            return Instance.read(child.data).pid == child.process.pid
        except InstanceNotRunning:
            return False

    def _stop(self, child: _Child) -> None:
        child.wanted = False
        process = child.process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(self.settings.shutdown_grace + STOP_MARGIN)
            except subprocess.TimeoutExpired:
                self._log(f"{child.role} {process.pid} ignored SIGTERM; killing it")
                process.kill()
                process.wait()
        child.process = None
        child.state.pid = None
        child.state.status = "stopped"
        self._save()

    # -- records ----------------------------------------------------------------------------

    def _save(self) -> None:
        self.layout.write_state(self.state)

    def _log(self, line: str) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
        log = self.layout.log("supervisor")
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "a") as output:
            output.write(f"{stamp} {line}\n")
