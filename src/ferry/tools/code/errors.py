"""code_interpreter's exceptions::

FerryError
└── CodeError               a code session cannot do what was asked
    ├── CodeUnavailable     no sandbox here (or turned off): code is refused, with the reason
    ├── KernelStartError    the Python kernel did not start in its sandbox
    └── InvalidInput        an input file's name is not a plain file name
"""

from __future__ import annotations

from ferry.errors import FerryError

__all__ = ["CodeError", "CodeUnavailable", "InvalidInput", "KernelStartError"]


class CodeError(FerryError):
    """Base class of code_interpreter's errors."""


class CodeUnavailable(CodeError):
    """Code cannot run on this host (no usable sandbox, or turned off); the message says why
    and what to change."""


class KernelStartError(CodeError):
    """A session's kernel exited or did not answer while starting; the message carries the
    end of its output (bubblewrap's or Python's complaint)."""


class InvalidInput(CodeError):
    """An input file's name is not a plain name: inputs go into the session folder itself,
    never through a path the caller chose."""
