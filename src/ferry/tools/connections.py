"""Connections: the secrets a tool uses, named by a connection id (`connection_id`,
`project_connection_id`). Ferry keeps no connection store: a connection's key is the
environment variable `FERRY_CONNECTION_<NAME>`, NAME being the id's last path segment in
capitals with every other character as `_` (`…/connections/github-mcp` →
`FERRY_CONNECTION_GITHUB_MCP`), set where Ferry runs."""

from __future__ import annotations

import os
import re

from ferry.tools.errors import ConnectionMissing

__all__ = ["PREFIX", "ConnectionMissing", "connection_key", "connection_variable"]

PREFIX = "FERRY_CONNECTION_"


def connection_variable(connection_id: str) -> str:
    """The environment variable that holds a connection's key."""
    name = connection_id.rstrip("/").rsplit("/", 1)[-1]
    return PREFIX + re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def connection_key(connection_id: str) -> str:
    variable = connection_variable(connection_id)
    value = os.environ.get(variable)
    if not value:
        raise ConnectionMissing(f"no key for connection '{connection_id}': set {variable}")
    return value
