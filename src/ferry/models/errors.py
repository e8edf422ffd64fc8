"""The model seam's one error: whatever a backend meets (HTTP, a malformed answer, weights
that do not load) becomes a `ModelError`, which the run engine records as the run's
`last_error` (`code`, `message`)."""

from __future__ import annotations

from ferry.errors import FerryError

__all__ = ["ModelError"]


class ModelError(FerryError):
    """The model backend failed; `code` and `message` become the run's `last_error`."""

    def __init__(self, message: str, *, code: str = "server_error") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
