"""The root of the `ferry` command."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import cast

import click
import typer

from ferry import __version__
from ferry.cli.dashboard import dashboard
from ferry.cli.demo import demo
from ferry.cli.deploy import down, logs, status, supervise, up
from ferry.cli.env import env, token, trust
from ferry.cli.helptext import whole_sentences
from ferry.cli.init import init
from ferry.cli.output import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, errors
from ferry.cli.queue import queue_app
from ferry.cli.runs import runs_app
from ferry.cli.serve import serve_app, worker
from ferry.cli.start import functions, keys, start
from ferry.errors import FerryError

__all__ = ["app", "main"]

app = typer.Typer(
    name="ferry",
    help="Agent service, queue service and functions host for the Azure agents + Functions flow.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(serve_app, name="serve")
app.add_typer(queue_app, name="queue")
app.add_typer(runs_app, name="runs")
app.command("demo")(demo)
app.command("dashboard")(dashboard)
app.command("start")(start)
app.command("functions")(functions)
app.command("keys")(keys)
app.command("worker")(worker)
app.command("env")(env)
app.command("init")(init)
app.command("trust")(trust)
app.command("token")(token)
app.command("up")(up)
app.command("down")(down)
app.command("status")(status)
app.command("logs")(logs)
app.command("supervise", hidden=True)(supervise)


@app.command("version")
def version() -> None:
    """Print Ferry's version."""
    print(__version__)


whole_sentences(app)


def _usage_error() -> type[click.ClickException]:
    """The base of the usage errors Typer raises: those of the Click it carries inside itself
    (Typer ≥ 0.2x), or Click's own (older Typers, where `typer.BadParameter` is Click's).
    Both have Click's interface (`show()`)."""
    for base in typer.BadParameter.__mro__:
        if base.__name__ == "ClickException":
            return cast("type[click.ClickException]", base)
    return click.ClickException


_EXITS = (click.exceptions.Exit, typer.Exit)
_USAGE_ERRORS = (click.ClickException, _usage_error())
_ABORTS = (click.exceptions.Abort, typer.Abort, KeyboardInterrupt)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; Ferry's own errors and usage errors print one clear line (with the
    usage for the latter), never a traceback."""
    try:
        app(
            args=list(argv) if argv is not None else sys.argv[1:],
            prog_name="ferry",
            standalone_mode=False,
        )
    except _EXITS as exc:
        return int(exc.exit_code)
    except _USAGE_ERRORS as exc:
        exc.show()
        return EXIT_USAGE
    except _ABORTS:
        return EXIT_INTERRUPTED
    except FerryError as exc:
        errors.print(f"[bold red]error:[/bold red] {exc}", soft_wrap=True, markup=True)
        return EXIT_ERROR
    return EXIT_OK
