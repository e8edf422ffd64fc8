"""Options shared by several commands, declared once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = [
    "ConfigOption",
    "DataOption",
    "DatabaseUrlOption",
    "HostOption",
    "JsonOption",
    "TlsNameOption",
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
