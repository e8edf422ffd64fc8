"""Output for people (Rich) and for scripts (`--json`), and the exit codes."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any

from rich.align import AlignMethod
from rich.console import Console
from rich.rule import Rule
from rich.style import Style
from rich.table import Table
from rich.text import TextType

__all__ = [
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "console",
    "emit",
    "errors",
    "make_console",
    "show_loading",
]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

UNWRAPPED = 10_000
"""The width of output that is not a terminal: as good as none."""


class _Console(Console):
    """Rich's console, except that a rule is never wider than the window it would have had
    (output that is not a terminal has almost no width limit)."""

    rule_width = 80

    def rule(
        self,
        title: TextType = "",
        *,
        characters: str = "─",
        style: str | Style = "rule.line",
        align: AlignMethod = "center",
    ) -> None:
        line = Rule(title=title, characters=characters, style=style, align=align)
        self.print(line, width=min(self.width, self.rule_width))


def make_console(*, stderr: bool = False) -> Console:
    """Rich's usual output on a terminal. Anywhere else (a file, a pipe, CI's log) each line
    is as long as it is: nobody can widen that window, and a path cut at column 80 is no
    longer a path to copy."""
    made = _Console(stderr=stderr, highlight=False)
    if not made.is_terminal:
        made.rule_width = made.width  # COLUMNS, or 80
        made.soft_wrap = True
        made.width = UNWRAPPED
    return made


console = make_console()
errors = make_console(stderr=True)


def emit(
    rows: Sequence[dict[str, Any]],
    *,
    as_json: bool,
    title: str | None = None,
    columns: Sequence[str] | None = None,
) -> None:
    """Rows as a Rich table, or as a JSON array on stdout with `--json`."""
    if as_json:
        print(json.dumps(list(rows), indent=2, default=str))
        return
    if not rows:
        console.print(f"[dim]{title or 'nothing'}: none[/dim]")
        return
    names = list(columns or rows[0].keys())
    table = Table(title=title, title_justify="left")
    for name in names:
        table.add_column(name)
    for row in rows:
        table.add_row(*(str(row.get(name, "")) for name in names))
    console.print(table)


def show_loading(loading: Sequence[tuple[str, Future[Any]]], indent: str = "") -> None:
    """A progress line per model loading in the background, then how long it took (or why
    it failed: runs on that model will fail with the same message)."""
    for what, future in loading:
        began = time.monotonic()
        with console.status(f"{indent}loading {what}", spinner="dots"):
            error = future.exception()
        if error is None:
            took = time.monotonic() - began
            console.print(f"{indent}[green]ready[/green] {what} [dim]({took:.1f} s)[/dim]")
        else:
            errors.print(f"{indent}[red]model not loaded[/red]: {error}")
