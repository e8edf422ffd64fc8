"""Shared vocabulary: aliases used across parts."""

from __future__ import annotations

from typing import Any, TypeAlias

__all__ = ["JSON", "JSONObject", "Json", "Metadata"]

JSON: TypeAlias = "dict[str, JSON] | list[JSON] | str | int | float | bool | None"
JSONObject: TypeAlias = "dict[str, JSON]"
Json: TypeAlias = dict[str, Any]
"""A JSON object as read from or written to the wire or the store, not checked deeper."""
Metadata: TypeAlias = dict[str, str]
"""User metadata of a queue: names are case-insensitive identifiers, values are strings."""
