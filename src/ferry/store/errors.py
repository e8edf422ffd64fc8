"""Errors of the database seam; drivers' own exceptions never travel past a backend."""

from __future__ import annotations

from ferry.errors import FerryError

__all__ = ["SchemaError", "StoreError", "StoreUnavailable"]


class StoreError(FerryError):
    """The database refused or failed an operation (disk full, read-only file, corrupt data)."""


class StoreUnavailable(StoreError):
    """The database cannot be reached or is busy right now; the operation may be retried."""


class SchemaError(StoreError):
    """The database's schema cannot be brought to the version this Ferry needs."""
