"""`ferry dashboard`: open the running instance's dashboard in a browser."""

from __future__ import annotations

import json
import webbrowser
from typing import Annotated

import typer

from ferry.cli.options import ConfigOption, DataOption, JsonOption
from ferry.cli.output import console
from ferry.settings import Settings

__all__ = ["dashboard"]

PATH = "/dashboard/"


def dashboard(
    data: DataOption = None,
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Print the address; open nothing.")
    ] = False,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Open the dashboard of the instance running on this data folder (agents, runs with
    their tool calls, queues, functions, files) in the default browser."""
    import httpx

    from ferry.errors import InstanceNotRunning
    from ferry.instance import Instance

    settings = Settings.load(config, data=data)
    agents = Instance.read(settings.data).services.get("agents")
    if agents is None:
        raise InstanceNotRunning(
            f"the instance using {settings.data} serves no agents API, which serves the "
            "dashboard: start it with `ferry start` (or `ferry serve agents`)"
        )
    url = agents + PATH
    ca = settings.data / "tls" / "ca.pem"
    try:
        with httpx.Client(verify=str(ca) if ca.exists() else True, timeout=5) as client:
            probe = client.get(url, follow_redirects=False)
    except httpx.HTTPError as exc:
        raise InstanceNotRunning(f"the dashboard at {url} does not answer: {exc}") from None
    login = probe.status_code in (302, 303) and "/login" in probe.headers.get("location", "")
    if as_json:
        print(json.dumps({"url": url, "login_required": login}))
        return
    console.print(f"Ferry's dashboard: [bold]{url}[/bold]")
    if login:
        console.print("It asks for a token: `ferry token` prints one (valid 24 hours).")
    console.print(
        "[dim]A browser warns about the certificate until it trusts Ferry's local CA: "
        "`ferry trust` says how.[/dim]"
    )
    if not no_browser and not webbrowser.open(url):
        console.print("[dim]No browser could be opened here: open the address above.[/dim]")
