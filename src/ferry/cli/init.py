"""`ferry init`: scaffold the app the seed describes, ready for `ferry start`."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated

import typer

from ferry.cli.output import console
from ferry.errors import ConfigError

__all__ = ["init"]

FILES = (
    "function_app.py",
    "host.json",
    "local.settings.json",
    "requirements.txt",
    "test.http",
    "README.md",
)


def init(
    folder: Annotated[
        Path | None, typer.Argument(help="Where to write the app (default: here).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite files already there.")] = False,
) -> None:
    """Write a function app with a queue-triggered GetWeather tool and an HTTP `prompt`
    function that asks an agent using it, set up for Ferry's default ports."""
    target = (folder or Path.cwd()).resolve()
    existing = [name for name in FILES if (target / name).exists()]
    if existing and not force:
        raise ConfigError(
            f"{target} already has {', '.join(existing)}; use --force to overwrite them"
        )
    try:
        target.mkdir(parents=True, exist_ok=True)
        template = resources.files("ferry.scaffold").joinpath("seed_app")
        for name in FILES:
            (target / name).write_bytes(template.joinpath(name).read_bytes())
    except OSError as exc:
        raise ConfigError(f"cannot write the app into {target}: {exc}") from None
    console.print(f"[green]Wrote[/green] a weather agent app to {target}:")
    for name in FILES:
        console.print(f"  {name}")
    console.print(
        "\nNext:\n"
        f"  cd {target}\n"
        "  ferry start\n"
        "  curl -s -X POST http://127.0.0.1:7071/api/prompt "
        '-d \'{"Prompt": "What is the weather in Seattle, WA?"}\''
    )
