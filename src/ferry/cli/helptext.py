"""Command help in whole sentences.

Docstrings are wrapped at 100 columns in the source, and Typer's rich help keeps those line
breaks in the listing of commands, so a summary stopped mid-sentence wherever the source
wrapped. Each paragraph of a command's help becomes one line here; Rich then wraps it to
the terminal's width.
"""

from __future__ import annotations

import inspect

import typer

__all__ = ["paragraphs", "whole_sentences"]


def paragraphs(text: str) -> str:
    """The text with each paragraph (blocks between blank lines) joined into one line."""
    blocks = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(" ".join(line.strip() for line in block.splitlines()) for block in blocks)


def whole_sentences(app: typer.Typer) -> None:
    """Give every command of `app` and of its sub-apps its help as `paragraphs`."""
    for command in app.registered_commands:
        text = command.help
        if text is None and command.callback is not None:
            text = inspect.getdoc(command.callback)
        if text:
            command.help = paragraphs(text)
    for group in app.registered_groups:
        if isinstance(group.help, str):
            group.help = paragraphs(group.help)
        if group.typer_instance is not None:
            info = group.typer_instance.info
            if isinstance(info.help, str):
                info.help = paragraphs(info.help)
            whole_sentences(group.typer_instance)
