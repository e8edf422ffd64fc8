"""The tool runtime's exceptions, one tree for every tool that acts::

    FerryError
    └── ToolError                   a tool cannot do what a call asked
        ├── CodeError               a code session cannot
        │   ├── CodeUnavailable     no sandbox here (or turned off): refused, with the reason
        │   ├── KernelStartError    the Python kernel did not start in its sandbox
        │   └── InvalidInput        an input file's name is not a plain file name
        ├── McpError                an MCP server cannot be used
        │   ├── McpTimeout          it did not finish within the tool's timeout
        │   └── McpUnavailable      it cannot be reached, refused, or broke the protocol
        ├── OpenApiError            an OpenAPI tool cannot
        │   ├── OpenApiSpecError    the spec cannot be used (what and where)
        │   └── OpenApiAuthError    its auth cannot be set up
        └── ConnectionMissing       no key is set for a connection a tool names

The engine turns each into the call's result, told to the model (`ferry.runs.engine`);
a bad spec when an agent is made is a 400 (`ferry.agents.tools`).
"""

from __future__ import annotations

from ferry.errors import FerryError

__all__ = [
    "CodeError",
    "CodeUnavailable",
    "ConnectionMissing",
    "InvalidInput",
    "KernelStartError",
    "McpError",
    "McpTimeout",
    "McpUnavailable",
    "OpenApiAuthError",
    "OpenApiError",
    "OpenApiSpecError",
    "ToolError",
]


class ToolError(FerryError):
    """Base class of the tool runtime's errors."""


class CodeError(ToolError):
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


class McpError(ToolError):
    """Base class of the MCP client's errors."""


class McpTimeout(McpError):
    """The server did not finish connecting, the handshake and the request within `timeout`."""


class McpUnavailable(McpError):
    """The server cannot be used: refused connection, an HTTP error status, a broken protocol.
    The message names the server's URL and the cause."""


class OpenApiError(ToolError):
    """Base class of the openapi tool's errors."""


class OpenApiSpecError(OpenApiError):
    """The spec cannot be used; the message says what is wrong and where (``spec.paths...``)."""


class OpenApiAuthError(OpenApiError):
    """The tool's auth cannot be set up (bad declaration, unusable scheme, failed resolver)."""


class ConnectionMissing(ToolError):
    """No key is set for a connection a tool names."""
