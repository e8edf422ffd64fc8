"""How a model backend is configured (a `[models.'name']` table of ferry.toml), apart from
the router that picks one and the backends that use one, so that neither imports the other."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["DEFAULT_AZURE_API_VERSION", "Fallback", "ModelConfig"]

DEFAULT_AZURE_API_VERSION = "2024-10-21"

Fallback = Literal["local", "scripted"]


class ModelConfig(BaseModel):
    """One backend, as a `[models.'name']` table of ferry.toml describes it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: Literal["openai", "azure-openai", "local", "scripted"]
    base_url: str | None = None
    """The server (Azure: the resource endpoint, https://NAME.openai.azure.com)."""
    api_key: str | None = None
    model: str | None = None
    """The model's name at the backend (Azure: the deployment), when it differs from the
    agent's."""
    api_version: str | None = None
    """Azure OpenAI only."""
    path: str | None = None
    """`local` only: a GGUF file to run instead of the embedded SmolLM2 (a ChatML model)."""
    call_threshold: float | None = None
    """`local` only: how strong the case for a tool call must be before one is made, for a
    model other than the embedded one (whose threshold is built in). Each model scores on
    its own scale: choose it with `python -m bench.models --gguf PATH --prompts
    toolsets-dev`, which prints the best one (docs/models.md)."""
    timeout: float | None = Field(default=None, gt=0)
    """openai / azure-openai: seconds a request may take (default 120)."""
    max_retries: int | None = Field(default=None, ge=0, le=10)
    """openai / azure-openai: retries of a failed request, by the `openai` client (default 2)."""
