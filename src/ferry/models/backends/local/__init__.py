"""The embedded model: SmolLM2 (or any ChatML GGUF) on llama.cpp in process, with the
procedure that turns its scores into tool calls and grounded answers."""

from ferry.models.backends.local.backend import LocalBackend

__all__ = ["LocalBackend"]
