"""`local.settings.json`: its `Values` become the app's environment, as `func start` does.

A value already in the environment wins, so a shell or CI can override the file.
"""

from __future__ import annotations

import os
from pathlib import Path

from ferry.functions.errors import HostConfigError
from ferry.functions.hostconfig import read_json_object

__all__ = ["apply_local_settings", "prepare_app_environment", "read_local_settings"]


def read_local_settings(folder: Path) -> dict[str, str]:
    """The `Values` of the app's local.settings.json ({} when there is none)."""
    path = folder / "local.settings.json"
    document = read_json_object(path)
    if document is None:
        return {}
    if document.get("IsEncrypted") is True:
        raise HostConfigError(
            f"{path} is encrypted (IsEncrypted: true); Ferry reads plain settings only "
            "(`func settings decrypt` turns it back)"
        )
    values = document.get("Values") or {}
    if not isinstance(values, dict):
        raise HostConfigError(f"{path}: Values must be an object")
    settings: dict[str, str] = {}
    for name, value in values.items():
        if isinstance(value, dict | list):
            raise HostConfigError(f"{path}: Values.{name} must be a string, number or boolean")
        settings[str(name)] = "" if value is None else _text(value)
    return settings


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def apply_local_settings(folder: Path) -> dict[str, str]:
    """Put the file's values into `os.environ` where unset; returns the ones applied."""
    applied = {}
    for name, value in read_local_settings(folder).items():
        if name not in os.environ:
            os.environ[name] = value
            applied[name] = value
    return applied


def prepare_app_environment(folder: Path) -> None:
    """What `func start` does before loading an app: its settings become environment
    variables (without overriding), and it runs as a Development environment."""
    apply_local_settings(folder)
    os.environ.setdefault("AZURE_FUNCTIONS_ENVIRONMENT", "Development")
