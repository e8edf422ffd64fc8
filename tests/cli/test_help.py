"""`ferry --help` and every sub-app's help list each command with its summary in whole
sentences: the first paragraph of its docstring on one line, never cut where the source
wrapped it."""

from __future__ import annotations

import inspect
import re

import pytest
import typer
from typer.testing import CliRunner

from ferry.cli.main import app

WIDE = {"COLUMNS": "1000", "TERMINAL_WIDTH": "1000", "NO_COLOR": "1"}
ROW = re.compile(r"^│ (\S+)\s{2,}(.*?)\s*│$")


def first_paragraph(text: str) -> str:
    return " ".join(inspect.cleandoc(text).split("\n\n")[0].split())


def summaries(typer_app: typer.Typer) -> dict[str, str]:
    """What each visible command's summary must be, from its docstring or help."""
    expected: dict[str, str] = {}
    for command in typer_app.registered_commands:
        if command.hidden or command.callback is None:
            continue
        name = command.name or command.callback.__name__.replace("_", "-")
        expected[name] = first_paragraph(inspect.getdoc(command.callback) or "")
    for group in typer_app.registered_groups:
        assert group.typer_instance is not None and group.name is not None
        expected[group.name] = first_paragraph(group.typer_instance.info.help or "")
    return expected


def listed(output: str) -> dict[str, str]:
    """The rows of the help's Commands panel: name → summary."""
    panel = output.split("─ Commands ─", 1)[1].split("╰", 1)[0]
    rows = {}
    for line in panel.splitlines()[1:]:
        found = ROW.match(line.strip())
        assert found, f"not one row per command: {line!r}"
        rows[found.group(1)] = found.group(2)
    return rows


APPS = [((), app)] + [((g.name,), g.typer_instance) for g in app.registered_groups]


@pytest.mark.parametrize(("words", "typer_app"), APPS, ids=["ferry", "serve", "queue", "runs"])
def test_each_command_is_summed_up_in_whole_sentences(
    words: tuple[str, ...], typer_app: typer.Typer
) -> None:
    result = CliRunner().invoke(app, [*words, "--help"], env=WIDE, terminal_width=1000)
    assert result.exit_code == 0, result.output
    rows = listed(result.output)
    expected = summaries(typer_app)
    assert rows.keys() == expected.keys()
    for name, summary in rows.items():
        assert summary == expected[name], name


@pytest.mark.parametrize("words", [("start",), ("serve", "identity"), ("worker",)])
def test_a_commands_own_help_joins_each_paragraph(words: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*words, "--help"], env=WIDE, terminal_width=1000)
    assert result.exit_code == 0, result.output
    lines = [line.strip() for line in result.output.splitlines()]
    command = typer.main.get_command(app)
    for word in words:
        command = command.commands[word]  # type: ignore[attr-defined]
    for paragraph in (command.help or "").split("\n\n"):
        assert " ".join(paragraph.split()) in lines
