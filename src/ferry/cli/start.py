"""`ferry start` and `ferry functions`: run a function app like `func start` does."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ferry.cli.options import (
    AgentsPortOption,
    ConfigOption,
    DatabaseUrlOption,
    DataOption,
    HostOption,
    HttpPortOption,
    IdentityPortOption,
    QueuePortOption,
    QueueTlsPortOption,
    TlsNameOption,
    WorkersOption,
)
from ferry.cli.output import console, show_loading
from ferry.cli.requirements import install_requirements
from ferry.settings import Settings

if TYPE_CHECKING:
    from ferry.platform.banner import Started

__all__ = ["functions", "serve_everything", "start"]

AppOption = Annotated[
    Path | None,
    typer.Option(
        "--app", help="The function app's folder (default: the current one).", show_default=False
    ),
]
EnableAuthOption = Annotated[
    bool,
    typer.Option(
        "--enable-auth",
        help="Enforce function/host/master keys (see `ferry keys`) and the dashboard's login.",
    ),
]


def announce_started(started: Started) -> None:
    if started.queues_url:
        console.print(
            f"[bold]Queue service[/bold]   {started.queues_url}  [dim]({started.store})[/dim]"
        )
    if started.queues_tls_url:
        console.print(f"                  {started.queues_tls_url}  [dim](https)[/dim]")
    if started.identity_url:
        console.print(
            f"[bold]Identity[/bold]        {started.identity_url}  "
            "[dim](`ferry env` prints the variables clients need)[/dim]"
        )
    if started.agents_url:
        console.print(f"[bold]Agent service[/bold]   {started.agents_url}/api/projects/default")
        for pattern, backend in started.models or []:
            console.print(f"                  model [yellow]{pattern}[/yellow] → {backend}")
        show_loading(started.loading, indent="                  ")
    if started.functions_url is None:
        console.print("[dim]Press Ctrl-C to stop.[/dim]")
        return
    console.print(f"[bold]Functions host[/bold]  {started.functions_url}")
    console.print("\n[bold]Functions:[/bold]\n")
    for row in started.functions:
        if row.trigger == "httpTrigger":
            methods = f"[{row.methods}] " if row.methods else ""
            console.print(
                f"        [yellow]{row.name}[/yellow]: {methods}[green]{row.detail}[/green]"
            )
        else:
            console.print(
                f"        [yellow]{row.name}[/yellow]: {row.trigger} [dim]{row.detail}[/dim]"
            )
        console.print()
    console.print("[dim]Press Ctrl-C to stop.[/dim]")


def start(
    app: AppOption = None,
    data: DataOption = None,
    host: HostOption = None,
    queue_port: QueuePortOption = None,
    http_port: HttpPortOption = None,
    agents_port: AgentsPortOption = None,
    queue_tls_port: QueueTlsPortOption = None,
    identity_port: IdentityPortOption = None,
    database_url: DatabaseUrlOption = None,
    enable_auth: EnableAuthOption = False,
    tls_name: TlsNameOption = None,
    workers: WorkersOption = None,
    config: ConfigOption = None,
) -> None:
    """Serve the queue service and the function app in the current folder (like
    `func start` with Azurite), until Ctrl-C.

    The app's requirements.txt is installed first, into a Python environment of the app's
    own under the data folder (once per set of requirements)."""
    serve_everything(
        app or Path.cwd(),
        enable_auth=enable_auth,
        config=config,
        host=host,
        queue_port=queue_port,
        http_port=http_port,
        agents_port=agents_port,
        queue_tls_port=queue_tls_port,
        identity_port=identity_port,
        tls_names=tls_name or None,
        data=data,
        database_url=database_url,
        workers=workers,
    )


def serve_everything(
    app: Path | None, *, enable_auth: bool, config: Path | None, **flags: Any
) -> None:
    """Queues, identity and agents in one process, with the app's functions host when there
    is an app: `ferry start`, and `ferry serve all` without one."""
    from ferry.platform.product import serve_product

    settings = Settings.load(config, **flags)
    if app is not None:
        install_requirements(app, settings.python_envs_folder)
    serve_product(settings, app, enable_auth=enable_auth, announce=announce_started, config=config)


def functions(
    app: AppOption = None,
    data: DataOption = None,
    host: HostOption = None,
    http_port: HttpPortOption = None,
    database_url: DatabaseUrlOption = None,
    enable_auth: EnableAuthOption = False,
    config: ConfigOption = None,
) -> None:
    """Serve only the functions host, against the queue services its connection settings
    name (Ferry's, Azurite or Azure Storage). With --database-url, Ferry's accounts are read
    straight from that shared store."""
    from ferry.platform.functions import serve_functions

    settings = Settings.load(
        config, host=host, http_port=http_port, data=data, database_url=database_url
    )
    folder = app or Path.cwd()
    install_requirements(folder, settings.python_envs_folder)
    serve_functions(settings, folder, enable_auth=enable_auth, announce=announce_started)


def keys(
    app: AppOption = None,
    data: DataOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
    config: ConfigOption = None,
) -> None:
    """Show the function, host and master keys (kept in the data folder)."""
    import json

    from ferry.cli.output import emit, errors
    from ferry.functions.appsettings import prepare_app_environment
    from ferry.functions.keys import load_keys
    from ferry.functions.loader import load_app

    settings = Settings.load(config, data=data)
    folder = (app or Path.cwd()).resolve()
    names: list[str] = []
    if (folder / "function_app.py").exists():
        install_requirements(folder, settings.python_envs_folder, say=errors)
        prepare_app_environment(folder)
        names = [f.name for f in load_app(folder).functions]
    found = load_keys(settings.data, names)
    if as_json:
        print(json.dumps(found.to_json(), indent=2))
        return
    rows = [{"scope": "master", "name": "_master", "key": found.master}]
    rows += [{"scope": "host", "name": n, "key": k} for n, k in found.host.items()]
    for function, entries in sorted(found.functions.items()):
        rows += [{"scope": f"function {function}", "name": n, "key": k} for n, k in entries.items()]
    emit(rows, as_json=False, title="Keys")
