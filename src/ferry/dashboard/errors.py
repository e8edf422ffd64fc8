"""The dashboard's one refusal: an action the service behind it would not make."""

from __future__ import annotations

from ferry.errors import FerryError

__all__ = ["ActionRefused"]


class ActionRefused(FerryError):
    """The service refused the change: `message` says why, `status` is its HTTP status."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
