"""The parts of an HTTP request that authentication looks at, independent of the web framework."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

__all__ = ["SignedRequest", "parse_query"]


def parse_query(raw: str) -> list[tuple[str, str]]:
    """Query parameters decoded as the SDK decodes them when signing (`+` stays `+`)."""
    pairs = []
    for part in raw.split("&"):
        if part:
            name, _, value = part.partition("=")
            pairs.append((unquote(name), unquote(value)))
    return pairs


@dataclass(frozen=True, slots=True)
class SignedRequest:
    method: str
    raw_path: str
    """The path exactly as sent, still percent-encoded."""
    query: list[tuple[str, str]]
    headers: dict[str, str]
    """Lowercased names; repeated headers joined with a comma."""
    scheme: str
    client_ip: str | None

    def header(self, name: str) -> str:
        return self.headers.get(name, "")

    def param(self, name: str) -> str | None:
        for key, value in self.query:
            if key == name:
                return value
        return None
