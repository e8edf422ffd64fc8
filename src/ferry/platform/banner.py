"""What `ferry start` (and `ferry functions`, `ferry serve all`) tells the user once
everything listens."""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ferry.functions.host import Listing

__all__ = ["Started"]


@dataclass(frozen=True)
class Started:
    functions_url: str | None
    """None when no function app is served (`ferry serve all`)."""
    queues_url: str | None
    store: str
    functions: list[Listing]
    agents_url: str | None = None
    models: list[tuple[str, str]] | None = None
    queues_tls_url: str | None = None
    identity_url: str | None = None
    loading: list[tuple[str, Future[Any]]] = field(default_factory=list)
    """Local models loading in the background."""
