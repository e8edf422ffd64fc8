"""Why the run engine stops working on a run."""

from __future__ import annotations

from ferry.errors import FerryError

__all__ = ["CallNotPending", "LeaseLost", "RunNotFound", "RunsError"]


class RunsError(FerryError):
    """Base of the run engine's errors."""


class LeaseLost(RunsError):
    """Another process holds the run now (this one was too slow to renew its lease); the
    work done under the old lease is dropped, never written."""


class CallNotPending(RunsError):
    """An output for a tool call that has already been answered or has ended."""


class RunNotFound(RunsError):
    """No run has the id asked for (`ferry runs show`)."""
