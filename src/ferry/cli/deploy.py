"""`ferry up`, `ferry down`, `ferry status` and `ferry logs`: the seed's azd lifecycle
(provision and deploy, redeploy, clean up) for a deployment on this machine."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from ferry.cli.options import (
    AgentsPortOption,
    ConfigOption,
    DataOption,
    HostOption,
    HttpPortOption,
    IdentityPortOption,
    JsonOption,
    QueuePortOption,
    QueueTlsPortOption,
)
from ferry.cli.output import console, emit
from ferry.settings import Settings

__all__ = ["down", "logs", "status", "supervise", "up"]

NameOption = Annotated[
    str | None,
    typer.Option(
        "--name",
        help="The environment (default: the app folder's name).",
        show_default=False,
    ),
]


def _data(data: Path | None, config: Path | None) -> Path:
    return Settings.load(config, data=data).data


def _only_environment(data: Path, name: str | None) -> str:
    """`--name`, or the one environment there is."""
    from ferry.deploy.errors import EnvironmentNotFound
    from ferry.deploy.layout import environments

    if name is not None:
        return name
    found = [layout.name for layout in environments(data)]
    if len(found) == 1:
        return found[0]
    if not found:
        raise EnvironmentNotFound(f"no environments in {data} (`ferry up` makes one)")
    raise EnvironmentNotFound(f"{len(found)} environments in {data}: say which with --name")


def up(
    app: Annotated[
        Path | None,
        typer.Option(
            "--app",
            help="The function app's folder (default: the current one).",
            show_default=False,
        ),
    ] = None,
    name: NameOption = None,
    setting: Annotated[
        list[str] | None,
        typer.Option(
            "--setting",
            help="An app setting NAME=VALUE (repeatable; kept for later redeploys).",
            show_default=False,
        ),
    ] = None,
    host: HostOption = None,
    queue_port: QueuePortOption = None,
    queue_tls_port: QueueTlsPortOption = None,
    identity_port: IdentityPortOption = None,
    agents_port: AgentsPortOption = None,
    http_port: HttpPortOption = None,
    data: DataOption = None,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Deploy the app (package, install its requirements, run it under a supervisor), or,
    if it is deployed already, redeploy it: the new package replaces the old one."""
    from ferry.deploy.lifecycle import parse_settings
    from ferry.deploy.lifecycle import up as deploy

    given = {
        "host": host,
        "queue_port": queue_port,
        "queue_tls_port": queue_tls_port,
        "identity_port": identity_port,
        "agents_port": agents_port,
        "http_port": http_port,
    }
    if config is None and Path("ferry.toml").is_file():
        config = Path("ferry.toml")

    def progress(line: str) -> None:
        if not as_json:
            console.print(f"[green]✓[/green] {line}")

    result = deploy(
        _data(data, config),
        app or Path.cwd(),
        name=name,
        ports={key: value for key, value in given.items() if value is not None},
        settings=parse_settings(setting or []),
        config=config,
        progress=progress,
    )
    if as_json:
        document = asdict(result)
        document["deployment"] = result.deployment.model_dump()
        print(json.dumps(document, indent=2))
        return
    verb = "Redeployed" if result.redeployed else "Deployed"
    console.print(
        f"\n[bold]{verb}[/bold] '{result.name}' deployment {result.deployment.number}"
        + (
            f" [dim](host switched in {result.switch_seconds:.2f} s)[/dim]"
            if result.switch_seconds is not None
            else ""
        )
    )
    for service, url in result.services.items():
        console.print(f"  {service:<11} {url}")
    console.print("\n[bold]Functions:[/bold]")
    for function in result.functions:
        detail = function.url or f"[dim]{function.trigger}[/dim]"
        console.print(f"  [yellow]{function.name}[/yellow]: {detail}")
    console.print(
        f"\n[dim]`ferry status`, `ferry logs -f --name {result.name}`, "
        f"`ferry down --name {result.name} [--purge]`[/dim]"
    )


def down(
    name: NameOption = None,
    purge: Annotated[
        bool,
        typer.Option(
            "--purge",
            help="Also delete the environment's queues, agents, threads, keys, identity "
            "data, packages and logs.",
        ),
    ] = False,
    data: DataOption = None,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Stop a deployment (draining its host); --purge leaves nothing of it behind."""
    from ferry.deploy.lifecycle import down as stop

    folder = _data(data, config)

    def progress(line: str) -> None:
        if not as_json:
            console.print(f"[green]✓[/green] {line}")

    result = stop(folder, _only_environment(folder, name), purge=purge, progress=progress)
    if as_json:
        print(json.dumps(asdict(result), indent=2))
        return
    what = "stopped" if result.stopped else "was not running"
    console.print(f"'{result.name}' {what}")
    if result.purged:
        console.print("[bold]Purged[/bold], deleting:")
        for thing, count in result.deleted.items():
            console.print(f"  {count:>6}  {thing}")


def status(
    name: NameOption = None,
    data: DataOption = None,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Deployments, their processes and functions, queues with their depths, agents and
    runs in flight."""
    from ferry.deploy.lifecycle import status as inspect

    found = inspect(_data(data, config), name)
    if as_json:
        print(json.dumps([asdict(entry) for entry in found], indent=2))
        return
    if not found:
        console.print("[dim]no environments (`ferry up` makes one)[/dim]")
    for entry in found:
        colour = "green" if entry.status == "running" else "yellow"
        console.print(
            f"[bold]{entry.name}[/bold]  [{colour}]{entry.status}[/{colour}]  deployment "
            f"{entry.deployment} of {entry.deployments}"
            + (f"  [dim]supervisor {entry.supervisor}[/dim]" if entry.supervisor else "")
        )
        rows = [
            {
                "process": role,
                "pid": child.get("pid") or "",
                "status": child.get("status", "stopped"),
                "deployment": child.get("deployment") or "",
                "restarts": child.get("restarts", 0),
            }
            for role, child in (("platform", entry.platform), ("host", entry.host))
            if child
        ]
        if rows:
            emit(rows, as_json=False, title="Processes")
        if entry.functions:
            emit(
                [
                    {"function": f.name, "trigger": f.trigger, "url": f.url or ""}
                    for f in entry.functions
                ],
                as_json=False,
                title="Functions",
            )
        emit(
            [{"queue": queue, "messages": depth} for queue, depth in entry.queues.items()],
            as_json=False,
            title="Queues",
        )
        console.print(f"agents {entry.agents}, runs in flight {entry.runs_in_flight}\n")


def logs(
    name: NameOption = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines.")
    ] = False,
    source: Annotated[
        str,
        typer.Option("--source", help="host (the app), platform, supervisor or pip."),
    ] = "host",
    lines: Annotated[int, typer.Option("--lines", "-n", help="Lines from the end.")] = 50,
    data: DataOption = None,
    config: ConfigOption = None,
) -> None:
    """Print a deployment's logs (the app's host by default), like `func azure functionapp
    logstream`; -f follows them until Ctrl-C."""
    from ferry.deploy.errors import DeployError
    from ferry.deploy.layout import Layout

    if source not in ("host", "platform", "supervisor", "pip"):
        raise DeployError(f"--source must be host, platform, supervisor or pip, not {source!r}")
    folder = _data(data, config)
    layout = Layout.of(folder, _only_environment(folder, name))
    layout.read_record()  # a clear error for an unknown environment
    path = layout.log(source)
    if not path.exists():
        console.print(f"[dim]{path} has nothing yet[/dim]")
        if not follow:
            return
        while not path.exists():
            time.sleep(0.2)
    with open(path, errors="replace") as log:
        earlier = log.readlines()  # also moves to the end, where following starts
        for line in earlier[-lines:] if lines > 0 else []:
            print(line, end="")
        sys.stdout.flush()
        while follow:
            line = log.readline()
            if line:
                print(line, end="", flush=True)
            else:
                time.sleep(0.2)


def supervise(
    root: Annotated[Path, typer.Argument(help="The environment's folder.")],
) -> None:
    """Run an environment's supervisor (`ferry up` starts it; not for direct use)."""
    from ferry.deploy.layout import Layout
    from ferry.deploy.supervisor import Supervisor

    raise typer.Exit(Supervisor(Layout(root.resolve())).run())
