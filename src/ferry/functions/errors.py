"""The functions host's errors: every one says which app, function or setting is at fault."""

from __future__ import annotations

from pathlib import Path

from ferry.errors import FerryError

__all__ = [
    "AppLoadError",
    "ConnectionSettingError",
    "FunctionsError",
    "HostConfigError",
    "RouteError",
]


class FunctionsError(FerryError):
    """Something about the function app or its host went wrong."""


class AppLoadError(FunctionsError):
    """The app could not be imported or indexed; names the function, file and line."""

    def __init__(
        self,
        reason: str,
        *,
        function: str | None = None,
        file: Path | str | None = None,
        line: int | None = None,
    ) -> None:
        self.reason = reason
        self.function = function
        self.file = str(file) if file is not None else None
        self.line = line
        where = ""
        if self.file:
            where = f" ({self.file}{f':{line}' if line else ''})"
        subject = f"function '{function}'" if function else "the function app"
        super().__init__(f"cannot index {subject}{where}: {reason}")


class HostConfigError(FunctionsError):
    """host.json or local.settings.json holds a value the host cannot use."""


class ConnectionSettingError(FunctionsError):
    """A binding's `connection` names a setting that is missing or unusable."""


class RouteError(FunctionsError):
    """A route template the host would refuse; the host raises it again as an AppLoadError
    naming the function, file and line."""
