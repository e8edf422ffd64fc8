"""How code_interpreter is offered to a model that knows only functions (no heavy imports:
the APIs read this when they check tools)."""

from __future__ import annotations

from ferry.types import Json

__all__ = ["CODE_DESCRIPTION", "CODE_PARAMETERS"]

CODE_DESCRIPTION = (
    "Run Python code in a stateful Jupyter session (variables persist between calls). Files "
    "the user gave are in /mnt/data; save files you make there too, and link them in your "
    "answer as sandbox:/mnt/data/<name>. Printed text and shown figures are returned."
)
CODE_PARAMETERS: Json = {
    "type": "object",
    "properties": {"code": {"type": "string", "description": "The Python program to run."}},
    "required": ["code"],
}
