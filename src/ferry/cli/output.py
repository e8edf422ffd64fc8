"""Output for people (Rich) and for scripts (`--json`), and the exit codes."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any

from rich.console import Console
from rich.table import Table

__all__ = [
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "console",
    "emit",
    "errors",
    "show_loading",
]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

console = Console(highlight=False)
errors = Console(stderr=True, highlight=False)


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
