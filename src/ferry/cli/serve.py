"""`ferry serve <part>`: run one part of Ferry on its own."""

from __future__ import annotations

from concurrent.futures import Future
from typing import Annotated, Any

import typer

from ferry.cli.options import (
    AgentsPortOption,
    ConfigOption,
    DatabaseUrlOption,
    DataOption,
    HostOption,
    IdentityPortOption,
    QueuePortOption,
    QueueTlsPortOption,
    TlsNameOption,
)
from ferry.cli.output import console, show_loading
from ferry.settings import Settings

__all__ = ["serve_app"]

serve_app = typer.Typer(help="Run one part of Ferry on its own.", no_args_is_help=True)


@serve_app.command("queues")
def queues(
    host: HostOption = None,
    port: Annotated[
        int | None, typer.Option("--port", help="Port (default 10001; 0 picks a free one).")
    ] = None,
    tls_port: Annotated[
        int | None,
        typer.Option(
            "--tls-port",
            help="Also serve https on this port (0 picks one), taking bearer tokens too.",
            show_default=False,
        ),
    ] = None,
    tls_name: TlsNameOption = None,
    data: DataOption = None,
    database_url: DatabaseUrlOption = None,
    config: ConfigOption = None,
) -> None:
    """Serve the Azure Storage Queue protocol (path-style: http://HOST:PORT/<account>)."""
    from ferry.platform.queues import serve_queues

    settings = Settings.load(
        config,
        host=host,
        queue_port=port,
        data=data,
        database_url=database_url,
        tls_names=tls_name or None,
    )

    def announce(url: str, store: str) -> None:
        console.print(f"[bold]Queue service[/bold] {url}  [dim]({store})[/dim]")
        console.print("[dim]Press Ctrl-C to stop.[/dim]")

    serve_queues(settings, announce, tls_port=tls_port)


def _announce_agents(
    url: str,
    store: str,
    models: list[tuple[str, str]],
    loading: list[tuple[str, Future[Any]]],
) -> None:
    console.print(f"[bold]Agent service[/bold] {url}  [dim]({store})[/dim]")
    for pattern, backend in models:
        console.print(f"  model [yellow]{pattern}[/yellow] → {backend}")
    show_loading(loading, indent="  ")
    console.print("[dim]Press Ctrl-C to stop.[/dim]")


@serve_app.command("agents")
def agents(
    host: HostOption = None,
    port: Annotated[
        int | None, typer.Option("--port", help="Port (default 8443; 0 picks a free one).")
    ] = None,
    data: DataOption = None,
    database_url: DatabaseUrlOption = None,
    tls_name: TlsNameOption = None,
    engine: Annotated[
        bool,
        typer.Option(
            "--engine/--no-engine",
            help="Also work the runs (default); --no-engine leaves them to `ferry worker`.",
        ),
    ] = True,
    enable_auth: Annotated[
        bool,
        typer.Option(
            "--enable-auth",
            help="Ask for a token on the dashboard even on loopback (the API always does).",
        ),
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Serve the agents API over https, with the run engine and the dashboard."""
    from ferry.platform.agents import serve_agents

    settings = Settings.load(
        config,
        host=host,
        agents_port=port,
        data=data,
        database_url=database_url,
        tls_names=tls_name or None,
    )
    serve_agents(settings, _announce_agents, engine=engine, enable_auth=enable_auth)


@serve_app.command("identity")
def identity(
    host: HostOption = None,
    port: Annotated[
        int | None, typer.Option("--port", help="Port (default 10013; 0 picks a free one).")
    ] = None,
    data: DataOption = None,
    config: ConfigOption = None,
) -> None:
    """Serve the managed-identity token endpoint alone (App Service form: IDENTITY_ENDPOINT,
    IDENTITY_HEADER), signing with the data folder's key. Set FERRY_IDENTITY_SECRET to give
    apps elsewhere the header it demands."""
    from ferry.platform.identity import serve_identity

    settings = Settings.load(config, host=host, identity_port=port, data=data)

    def announce(url: str) -> None:
        console.print(f"[bold]Token endpoint[/bold] {url}")
        if settings.identity_secret is None:
            console.print(
                "[dim]IDENTITY_HEADER is new for this start; it is in "
                f"{settings.data / 'instance.json'} (readable by its owner only)[/dim]"
            )
        console.print("[dim]Press Ctrl-C to stop.[/dim]")

    serve_identity(settings, announce)


@serve_app.command("all")
def all_services(
    host: HostOption = None,
    queue_port: QueuePortOption = None,
    agents_port: AgentsPortOption = None,
    queue_tls_port: QueueTlsPortOption = None,
    identity_port: IdentityPortOption = None,
    data: DataOption = None,
    database_url: DatabaseUrlOption = None,
    tls_name: TlsNameOption = None,
    config: ConfigOption = None,
) -> None:
    """Serve the queue service, the token endpoint and the agent service in one process,
    with no functions host: the platform `ferry up` runs beside a deployed app's host."""
    from ferry.cli.start import serve_everything

    serve_everything(
        None,
        enable_auth=False,
        config=config,
        host=host,
        queue_port=queue_port,
        agents_port=agents_port,
        queue_tls_port=queue_tls_port,
        identity_port=identity_port,
        tls_names=tls_name or None,
        data=data,
        database_url=database_url,
    )


def worker(
    data: DataOption = None,
    database_url: DatabaseUrlOption = None,
    config: ConfigOption = None,
) -> None:
    """Run only the run engine: it claims runs from the shared store (PostgreSQL with
    --database-url, or the data folder's SQLite file on this machine) and drives them,
    beside any number of other workers."""
    from ferry.platform.worker import run_worker

    settings = Settings.load(config, data=data, database_url=database_url)

    def announce(store: str, models: list[tuple[str, str]]) -> None:
        console.print(f"[bold]Run worker[/bold]  [dim]({store})[/dim]")
        for pattern, backend in models:
            console.print(f"  model [yellow]{pattern}[/yellow] → {backend}")

    run_worker(settings, announce)
