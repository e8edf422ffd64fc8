"""The commands' own failures (what the parts below raise has its own tree); `ferry.cli.main`
prints any FerryError as one line and exits 1."""

from __future__ import annotations

from ferry.errors import FerryError

__all__ = ["CliError", "DemoFailed"]


class CliError(FerryError):
    """Base of the errors a command raises itself."""


class DemoFailed(CliError):
    """A step of `ferry demo` did not do what it should."""
