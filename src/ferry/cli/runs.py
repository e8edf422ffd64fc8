"""`ferry runs show RUN_ID`: a run's timeline, to see where a run stands and why."""

from __future__ import annotations

from typing import Annotated

import typer

from ferry.cli.options import ConfigOption, DatabaseUrlOption, DataOption, JsonOption
from ferry.cli.output import console, emit
from ferry.settings import Settings

__all__ = ["runs_app"]

runs_app = typer.Typer(help="Look at runs.", no_args_is_help=True)


@runs_app.command("show")
def show(
    run_id: Annotated[
        str, typer.Argument(help="The run's id (run_… for a classic run, resp_… for a response).")
    ],
    data: DataOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Print the run's status and timeline: model turns, each queue call with its
    CorrelationId (put, answered, late, timed out), and how the run ended."""
    import json

    from ferry.runs.timeline import timeline
    from ferry.store import open_database

    settings = Settings.load(config, data=data, database_url=database_url)
    database = open_database(database_url=settings.database_url, data=settings.data)
    try:
        found = timeline(database, run_id)
    finally:
        database.close()
    if as_json:
        print(json.dumps(found, indent=2))
        return
    run = found["run"]
    agent = run.get("agent") or {}
    where = run["conversation_id"] or run["previous_run_id"] or "-"
    console.print(
        f"[bold]{run['id']}[/bold]  status [yellow]{run['status']}[/yellow]  "
        f"{'thread' if run['api'] == 'classic' else 'conversation'} {where}  "
        f"agent {agent.get('name') or agent.get('id') or '-'}  model {run['model']}"
    )
    if run.get("last_error"):
        error = run["last_error"]
        console.print(f"[red]last_error[/red] {error['code']}: {error['message']}")
    emit(found["events"], as_json=False, title="Timeline", columns=["time", "event", "detail"])
    emit(
        found["calls"],
        as_json=False,
        title="Queue calls",
        columns=["correlation_id", "tool", "state", "put", "answered", "deadline", "late"],
    )
    emit(
        found["tools"],
        as_json=False,
        title="Other tool calls",
        columns=["call_id", "tool", "name", "state", "stage", "made", "answered", "deadline"],
    )
