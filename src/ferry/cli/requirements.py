"""The app's requirements.txt, installed before the app is loaded in Ferry's process.

`ferry start`, `ferry functions`, `ferry keys` and `ferry demo` import the app where Ferry
runs, so what it imports must be there first: its requirements go into an environment of its
own (`ferry.deploy.pythonenv`, the one `ferry up` uses), made once per set of requirements,
whose site-packages then come first on `sys.path`.
"""

from __future__ import annotations

import importlib
import time
from pathlib import Path

from rich.console import Console

from ferry.cli.output import console
from ferry.deploy.pythonenv import (
    ensure_environment,
    environment_key,
    environment_ready,
    has_requirements,
    in_app_environment,
    use_environment,
)

__all__ = ["HOST_LIBRARIES", "install_requirements"]

HOST_LIBRARIES = (
    "azure.core",
    "azure.functions",
    "azure.storage.queue",
    "aiohttp",
    "starlette",
    "uvicorn",
)
"""What Ferry's host runs on, loaded before the app's environment comes first on `sys.path`:
the host keeps the versions Ferry was installed with, whatever the app pins."""


def install_requirements(
    app: Path, environments: Path, *, say: Console = console, use: bool = True
) -> Path | None:
    """Make (once) the app's environment under `environments`, saying what happens, and
    with `use` put it first on `sys.path`; the environment's folder, or None when there is
    nothing to install."""
    app = app.resolve()
    is_app = (app / "host.json").is_file() or (app / "function_app.py").is_file()
    if not is_app or not has_requirements(app) or in_app_environment():
        return None  # not an app (loading will say why), or the app's Python already
    requirements = app / "requirements.txt"
    folder = environments.resolve() / environment_key(app)
    log = folder / "pip.log"
    if environment_ready(folder):
        say.print(f"[dim]requirements.txt installed already, in {folder}[/dim]")
    else:
        began = time.monotonic()
        with say.status(f"installing {requirements} into {folder} (pip)", spinner="dots"):
            done = ensure_environment(folder, app, log)
        took = f"{time.monotonic() - began:.1f} s"
        if not done.pip_ran:  # another process made it while this one waited
            say.print(f"[dim]requirements.txt installed already, in {folder}[/dim]")
        elif done.packages:
            say.print(
                f"[green]installed[/green] {' '.join(done.packages)} into {folder} "
                f"[dim]({took}; pip's log: {log})[/dim]"
            )
        else:
            say.print(
                "requirements.txt: nothing to install, Ferry's environment has it all "
                f"[dim]({took}; pip's log: {log})[/dim]"
            )
    if use:
        for name in HOST_LIBRARIES:
            importlib.import_module(name)
        use_environment(folder)
    return folder
