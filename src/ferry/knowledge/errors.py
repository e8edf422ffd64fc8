"""Errors of the knowledge part (files, vector stores, file search).

Each carries the `code` and `message` that a vector-store file shows as its `last_error`, so the
API layer renders them without translating::

    FerryError
    └── KnowledgeError          code + message, as in a vector-store file's last_error
        ├── ExtractionError     an uploaded file whose text cannot be read for indexing
        ├── KnowledgeNotFound   a file, vector store or batch the project does not have (404)
        └── KnowledgeRefused    a request the knowledge store cannot carry out (400)

`ferry.agents.wire` maps the last two to the agents API's JSON errors.
"""

from __future__ import annotations

from ferry.errors import FerryError

__all__ = [
    "INVALID_FILE",
    "UNSUPPORTED_FILE",
    "ExtractionError",
    "KnowledgeError",
    "KnowledgeNotFound",
    "KnowledgeRefused",
]

UNSUPPORTED_FILE = "unsupported_file"
"""The file's type is one Ferry cannot read (the hosted service's code for the same case)."""

INVALID_FILE = "invalid_file"
"""The file claims a readable type but is corrupt, encrypted, undecodable or has no text."""


class KnowledgeError(FerryError):
    """A file or vector-store operation failed; `code` is the wire's `last_error.code`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.message!r})"


class ExtractionError(KnowledgeError):
    """An uploaded file's text could not be extracted, so the file cannot be indexed."""


class KnowledgeNotFound(KnowledgeError):
    """No such file, vector store or batch in the caller's project."""

    def __init__(self, message: str) -> None:
        super().__init__("not_found", message)


class KnowledgeRefused(KnowledgeError):
    """The request names things that exist but cannot be used so (a file too large, a batch
    already finished, an unknown purpose)."""

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__("invalid_request_error", message)
        self.param = param
