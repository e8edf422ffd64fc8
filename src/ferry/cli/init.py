"""`ferry init`: scaffold the app the seed describes, ready for `ferry start`.

The app's client code is written for one generation of the agents API, and its
requirements.txt pins the client library that has that API: `classic` (agents, threads,
messages, runs: azure-ai-projects 1.x with azure-ai-agents) or `v2` (agent versions,
Responses and Conversations: azure-ai-projects 2.x).
"""

from __future__ import annotations

import shlex
from enum import StrEnum
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Annotated

import typer

from ferry.cli.output import console
from ferry.errors import ConfigError

__all__ = ["DEFAULT_API", "FILES", "Api", "init", "next_steps", "scaffold", "write_app"]

FILES = (
    "function_app.py",
    "host.json",
    "local.settings.json",
    "requirements.txt",
    "test.http",
    "README.md",
)

PROMPT_COMMAND = (
    "curl -s -X POST http://127.0.0.1:7071/api/prompt "
    '-d \'{"Prompt": "What is the weather in Seattle, WA?"}\''
)


class Api(StrEnum):
    """The agents API generation the app's client code is written for."""

    v2 = "v2"
    classic = "classic"


DEFAULT_API = Api.v2
CLIENTS = {
    Api.classic: "classic agents API: azure-ai-projects 1.x",
    Api.v2: "agents API v2: azure-ai-projects 2.x",
}


def scaffold(api: Api) -> Traversable:
    """The template folder of that generation; refused while it is not written yet."""
    folder = resources.files("ferry.scaffold").joinpath(api.value)
    if not folder.joinpath("function_app.py").is_file():
        raise ConfigError(
            f"`ferry init --api {api.value}` is not available yet: Ferry does not serve that "
            f"agents API yet; use --api {DEFAULT_API.value} (the default)"
        )
    return folder


def write_app(target: Path, api: Api = DEFAULT_API) -> None:
    """Copy the scaffold's files into `target` (made if missing), overwriting them."""
    template = scaffold(api)
    try:
        target.mkdir(parents=True, exist_ok=True)
        for name in FILES:
            (target / name).write_bytes(template.joinpath(name).read_bytes())
    except OSError as exc:
        raise ConfigError(f"cannot write the app into {target}: {exc}") from None


def next_steps(target: Path) -> list[str]:
    """The commands to type after `ferry init`, as typed from the current folder."""
    here = Path.cwd().resolve()
    steps = []
    if target != here:
        shown = target.relative_to(here) if target.is_relative_to(here) else target
        steps.append(f"cd {shlex.quote(str(shown))}")
    return [*steps, "ferry start"]


def init(
    folder: Annotated[
        Path | None, typer.Argument(help="Where to write the app (default: here).")
    ] = None,
    api: Annotated[
        Api,
        typer.Option(
            "--api",
            help="The agents API the app's client uses: v2 (azure-ai-projects 2.x: agent "
            "versions and the Responses API) or classic (1.x: agents, threads, runs).",
        ),
    ] = DEFAULT_API,
    force: Annotated[bool, typer.Option("--force", help="Overwrite files already there.")] = False,
) -> None:
    """Write a function app with a queue-triggered GetWeather tool and an HTTP `prompt`
    function that asks an agent using it, set up for Ferry's default ports."""
    target = (folder or Path.cwd()).resolve()
    scaffold(api)  # refuse an API not available before looking at the folder
    existing = [name for name in FILES if (target / name).exists()]
    if existing and not force:
        raise ConfigError(
            f"{target} already has {', '.join(existing)}; use --force to overwrite them"
        )
    write_app(target, api)
    console.print(f"[green]Wrote[/green] a weather agent app ({CLIENTS[api]}) to {target}:")
    for name in FILES:
        console.print(f"  {name}")
    console.print("\nNext:")
    for step in next_steps(target):
        console.print(f"  {step}", markup=False, soft_wrap=True)
    console.print(
        "`ferry start` first installs requirements.txt into a Python environment of the "
        "app's own (once per set of requirements), then serves the app until Ctrl-C. "
        "From another shell, ask the agent:"
    )
    console.print(f"  {PROMPT_COMMAND}", markup=False, soft_wrap=True)
