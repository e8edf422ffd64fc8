"""Options shared by several commands, declared once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = [
    "AgentsPortOption",
    "ConfigOption",
    "HttpPortOption",
    "IdentityPortOption",
    "QueuePortOption",
    "QueueTlsPortOption",
    "DataOption",
    "DatabaseUrlOption",
    "HostOption",
    "JsonOption",
    "TlsNameOption",
    "WorkersOption",
]

DataOption = Annotated[
    Path | None,
    typer.Option("--data", help="Data folder (default ./.ferry).", show_default=False),
]
DatabaseUrlOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="postgresql://… to keep state in PostgreSQL (env FERRY_DATABASE_URL).",
        show_default=False,
    ),
]
HostOption = Annotated[
    str | None, typer.Option("--host", help="Address to listen on (default 127.0.0.1).")
]
ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", help="Settings file (default ./ferry.toml).", show_default=False),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
TlsNameOption = Annotated[
    list[str] | None,
    typer.Option(
        "--tls-name",
        help="Another host name or address for the server certificate (repeatable).",
        show_default=False,
    ),
]
QueuePortOption = Annotated[
    int | None, typer.Option("--queue-port", help="Queue service port (default 10001).")
]
QueueTlsPortOption = Annotated[
    int | None,
    typer.Option("--queue-tls-port", help="Queue service HTTPS port (default 10011)."),
]
AgentsPortOption = Annotated[
    int | None, typer.Option("--agents-port", help="Agent service (https) port (default 8443).")
]
WorkersOption = Annotated[
    int | None,
    typer.Option(
        "--workers",
        help="Also work runs in N `ferry worker` processes beside this one, to use more "
        "cores (default 0).",
        show_default=False,
    ),
]
IdentityPortOption = Annotated[
    int | None,
    typer.Option("--identity-port", help="Token endpoint port (default 10013)."),
]
HttpPortOption = Annotated[
    int | None, typer.Option("--http-port", help="Functions HTTP port (default 7071).")
]
