"""Rules for the names users choose: queues and metadata."""

from __future__ import annotations

import re

from ferry.queues.errors import (
    EmptyMetadataKey,
    InvalidMetadata,
    InvalidResourceName,
    MetadataTooLarge,
    OutOfRangeInput,
)
from ferry.types import Metadata

__all__ = ["check_metadata", "check_queue_name", "metadata_from_headers"]

_QUEUE_NAME = re.compile(r"[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9]))*")
_METADATA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_METADATA_PREFIX = "x-ms-meta-"
MAX_METADATA_BYTES = 8 * 1024


def check_queue_name(name: str) -> None:
    """3-63 lowercase letters, digits and single hyphens, starting and ending alphanumeric."""
    if not 3 <= len(name) <= 63:
        raise OutOfRangeInput(
            "The specified resource name length is not within the permissible limits."
        )
    if not _QUEUE_NAME.fullmatch(name):
        raise InvalidResourceName()


def check_metadata(metadata: Metadata) -> None:
    """Names must be shaped like C# identifiers (letters, digits, underscores; no leading
    digit), unique without regard to case; 8 KiB in all."""
    seen: set[str] = set()
    size = 0
    for name, value in metadata.items():
        if not name:
            raise EmptyMetadataKey()
        if not _METADATA_NAME.fullmatch(name):
            raise InvalidMetadata(f"The metadata name {name!r} is not a valid identifier.")
        if name.lower() in seen:
            raise InvalidMetadata(f"The metadata name {name!r} is given more than once.")
        seen.add(name.lower())
        size += len(name.encode()) + len(value.encode())
    if size > MAX_METADATA_BYTES:
        raise MetadataTooLarge()


def metadata_from_headers(headers: list[tuple[str, str]]) -> Metadata:
    """`x-ms-meta-<name>: value` headers as a metadata mapping (names keep their case)."""
    metadata: Metadata = {}
    for name, value in headers:
        if name.lower().startswith(_METADATA_PREFIX):
            key = name[len(_METADATA_PREFIX) :]
            if key.lower() in (k.lower() for k in metadata):
                raise InvalidMetadata(f"The metadata name {key!r} is given more than once.")
            metadata[key] = value
    check_metadata(metadata)
    return metadata
