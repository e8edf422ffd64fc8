"""`ferry demo` (what `make demo` runs): the seed's whole scenario, offline, as it happens.

It writes the seed's app with `ferry init` into a temporary folder, installs its
requirements.txt as `ferry start` does (into an environment kept in the user's cache, so the
next demo installs nothing), starts `ferry start` on free ports, sends "What is the weather
in Seattle, WA?" to the app's `/api/prompt`, and prints the run as the store records it: the
agent, the run, the tool call put on `input` with its CorrelationId, the function's answer on
`output`, the final answer. The model is whatever `ferry start` would use: with no model
server configured, the embedded SmolLM2.
"""

from __future__ import annotations

import os
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from ferry.cli.errors import DemoFailed
from ferry.cli.init import write_app
from ferry.cli.output import console
from ferry.cli.requirements import install_requirements
from ferry.models.router import ModelRouter
from ferry.runs.timeline import timeline
from ferry.settings import Settings
from ferry.spawn import spawn
from ferry.store import Database, open_database
from ferry.store.schema import agents, runs

__all__ = ["demo"]

PROMPT = "What is the weather in Seattle, WA?"
EXPECTED = "Weather is 74 degrees and sunny"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _environments(work: Path) -> Path:
    """Where the app's Python environment is kept: in the user's cache, so that the next
    demo finds its requirements installed (keyed by their content and Ferry's environment),
    or in the demo's temporary folder when there is no cache to write."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ferry" / "python"
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except (OSError, RuntimeError):  # RuntimeError: no home folder to be found
        return work / "python"
    return cache


class _Narrator:
    """Prints what the store says happened, once each, in order."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.told: set[str] = set()
        self.agents = 0

    def look(self) -> None:
        def newest(conn: Any) -> tuple[int, str | None]:
            count = conn.execute(select(func.count()).select_from(agents)).scalar_one()
            run = conn.execute(select(runs.c.id).order_by(runs.c.seq.desc()).limit(1)).scalar()
            return int(count), run

        count, run_id = self.database.read_sync(newest)
        if count > self.agents:
            self.agents = count
            self._say("agent", "[cyan]agent service[/cyan]  agent created with the GetWeather tool")
        if run_id is None:
            return
        kind = "response" if run_id.startswith("resp_") else "run"
        self._say("run", f"[cyan]agent service[/cyan]  {kind} {run_id} queued")
        found = timeline(self.database, run_id)
        for event in found["events"]:
            self._event(event)

    def _event(self, event: dict[str, str]) -> None:
        kind = event["event"]
        if kind == "queue.put":
            self._say(
                f"put:{event['detail']}",
                "[cyan]agent service[/cyan]  tool call put on [bold]input[/bold] "
                f"({event['detail']})",
            )
        elif kind == "queue.answered":
            self._say(
                f"answer:{event['detail']}",
                "[magenta]GetWeather[/magenta]     answered on [bold]output[/bold] "
                f"({event['detail']})",
            )
        elif kind in ("run.in_progress", "run.completed", "run.failed", "run.expired"):
            self._say(kind, f"[cyan]agent service[/cyan]  {kind.replace('.', ' ')}")
        elif kind == "model.turn":
            self._say(
                f"model:{event['time']}", f"[cyan]model[/cyan]          turn ({event['detail']})"
            )

    def _say(self, key: str, text: str) -> None:
        if key not in self.told:
            self.told.add(key)
            console.print(text)


def demo() -> None:
    """Run the seed's scenario on Ferry, offline: agent → queue → function → answer."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ferry-demo-") as folder:
        work = Path(folder)
        app, data = work / "weather-app", work / "data"
        console.rule("[bold]Ferry demo[/bold]: an agent whose tool is a function over queues")
        write_app(app)
        console.print(f"[green]✓[/green] `ferry init` wrote the seed's app to {app}")
        environments = _environments(work)
        # What `ferry start` would do first, done here so that it is seen as it happens.
        install_requirements(app, environments, use=False)
        agents, queues_tls = _free_port(), _free_port()
        env = {
            "PROJECT_ENDPOINT": f"https://127.0.0.1:{agents}/api/projects/default",
            "STORAGE_CONNECTION__queueServiceUri": (
                f"https://127.0.0.1:{queues_tls}/devstoreaccount1"
            ),
            "FERRY_PYTHON_ENVS": str(environments),
        }
        args = ["start", "--app", str(app), "--queue-port", "0", "--http-port", "0"]
        args += ["--agents-port", str(agents), "--queue-tls-port", str(queues_tls)]
        child = spawn([*args, "--identity-port", "0"], data, env=env)
        try:
            console.print(
                f"[green]✓[/green] ferry start: functions at {child.url('functions')}, "
                f"agents at {child.url('agents')}"
            )
            for pattern, where in _models():
                console.print(f"[green]✓[/green] model {pattern} → {where}")
            answer = _ask(child.url("functions"), data)
        finally:
            code = child.stop()
        console.print(f"[green]✓[/green] ferry stopped cleanly (exit {code})")
    if EXPECTED not in answer:
        raise DemoFailed(f"the answer does not contain {EXPECTED!r}: {answer!r}")
    console.print(f"[dim]{time.monotonic() - started:.1f} s in all[/dim]")


def _models() -> list[tuple[str, str]]:
    """What serves the agent's model, as `ferry start` (same settings, same environment)
    decides it."""
    settings = Settings.load(None)
    router = ModelRouter.from_environment(os.environ, settings.models, settings.fallback_model)
    return router.describe()


def _ask(functions_url: str, data: Path) -> str:
    console.print(f"[bold]you[/bold]            → /api/prompt: {PROMPT}")
    result: dict[str, Any] = {}

    def post() -> None:
        try:
            result["response"] = httpx.post(
                f"{functions_url}/api/prompt", json={"Prompt": PROMPT}, timeout=60
            )
        except httpx.HTTPError as exc:
            result["error"] = exc

    asker = threading.Thread(target=post, daemon=True)
    asker.start()
    database = open_database(database_url=None, data=data, migrate=False)
    try:
        narrator = _Narrator(database)
        while asker.is_alive():
            narrator.look()
            asker.join(0.05)
        narrator.look()
    finally:
        database.close()
    if "error" in result:
        raise DemoFailed(f"/api/prompt failed: {result['error']}")
    response: httpx.Response = result["response"]
    if response.status_code != 200:
        raise DemoFailed(f"/api/prompt answered {response.status_code}: {response.text[:500]}")
    answer = str(response.json().get("Answer", ""))
    console.print(f"[bold]agent[/bold]          ← [bold green]{answer}[/bold green]")
    return answer
