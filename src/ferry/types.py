"""Shared vocabulary: aliases used across parts."""

from __future__ import annotations

from typing import TypeAlias

__all__ = ["JSON", "JSONObject", "Metadata"]

JSON: TypeAlias = "dict[str, JSON] | list[JSON] | str | int | float | bool | None"
JSONObject: TypeAlias = "dict[str, JSON]"
Metadata: TypeAlias = dict[str, str]
"""User metadata of a queue: names are case-insensitive identifiers, values are strings."""
