"""`ferry serve <part>`: run one part of Ferry on its own."""

from __future__ import annotations

from typing import Annotated

import typer

from ferry.cli.options import ConfigOption, DatabaseUrlOption, DataOption, HostOption
from ferry.cli.output import console
from ferry.settings import Settings

__all__ = ["serve_app"]

serve_app = typer.Typer(help="Run one part of Ferry on its own.", no_args_is_help=True)


@serve_app.command("queues")
def queues(
    host: HostOption = None,
    port: Annotated[
        int | None, typer.Option("--port", help="Port (default 10001; 0 picks a free one).")
    ] = None,
    data: DataOption = None,
    database_url: DatabaseUrlOption = None,
    config: ConfigOption = None,
) -> None:
    """Serve the Azure Storage Queue protocol (path-style: http://HOST:PORT/<account>)."""
    from ferry.queues.server import serve_queues

    settings = Settings.load(
        config, host=host, queue_port=port, data=data, database_url=database_url
    )

    def announce(url: str, store: str) -> None:
        console.print(f"[bold]Queue service[/bold] {url}  [dim]({store})[/dim]")
        console.print("[dim]Press Ctrl-C to stop.[/dim]")

    serve_queues(settings, announce)
