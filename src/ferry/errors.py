"""The root of Ferry's exceptions.

Every part raises its own subtree, and each protocol maps that subtree to wire errors in one
module (`ferry.queues.wire` for the queue protocol)::

    FerryError
    ├── ConfigError                  settings that cannot be used
    ├── store.errors.StoreError      the database failed or cannot be reached
    │   ├── StoreUnavailable
    │   └── SchemaError
    ├── queues.errors.QueueServiceError   a request the queue protocol refuses
    │   ├── ... one class per error code the service answers with
    └── tools.errors.ToolError       a tool that acts cannot (code, MCP, OpenAPI, connections)
"""

from __future__ import annotations

__all__ = ["ConfigError", "FerryError"]


class FerryError(Exception):
    """Base class of every error Ferry raises on purpose."""


class ConfigError(FerryError):
    """A setting (flag, environment variable or ferry.toml entry) cannot be used."""
