"""What can go wrong deploying an app; the CLI prints these as one line."""

from __future__ import annotations

from ferry.errors import FerryError

__all__ = [
    "DeployError",
    "EnvironmentNotFound",
    "PackageError",
    "RequirementsError",
    "StartFailed",
]


class DeployError(FerryError):
    """Base of the deployment errors."""


class EnvironmentNotFound(DeployError):
    """No environment of that name exists in the data folder."""


class PackageError(DeployError):
    """The app folder cannot be packaged (no function_app.py, unreadable files)."""


class RequirementsError(DeployError):
    """pip could not install the app's requirements.txt."""


class StartFailed(DeployError):
    """The supervisor, the platform or the app's host did not come up."""
