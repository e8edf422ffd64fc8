"""Which backend serves an agent's model name.

Entries of the `[models]` settings table win (exact name first, then `"*"`); otherwise the
environment decides, as the `openai` client's own variables do: `AZURE_OPENAI_ENDPOINT` means
Azure OpenAI (the agent's model is the deployment), `OPENAI_BASE_URL` or `OPENAI_API_KEY`
means an OpenAI-compatible server; with neither, the scripted rules answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict

from ferry.errors import ConfigError
from ferry.models.backend import ModelBackend

__all__ = ["ModelConfig", "ModelRouter"]


class ModelConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: Literal["openai", "azure-openai", "scripted"]
    base_url: str | None = None
    api_key: str | None = None
    model: str | None = None
    """The model's name at the backend, when it differs from the agent's."""
    api_version: str | None = None


class ModelRouter:
    def __init__(self, models: Mapping[str, ModelConfig], default: ModelConfig) -> None:
        self.models = dict(models)
        self.default = default
        self._backends: dict[ModelConfig, ModelBackend] = {}

    @classmethod
    def from_environment(
        cls, environ: Mapping[str, str], models: Mapping[str, ModelConfig] | None = None
    ) -> ModelRouter:
        if environ.get("AZURE_OPENAI_ENDPOINT"):
            default = ModelConfig(
                backend="azure-openai",
                base_url=environ["AZURE_OPENAI_ENDPOINT"],
                api_key=environ.get("AZURE_OPENAI_API_KEY"),
                api_version=environ.get("OPENAI_API_VERSION", "2024-10-21"),
            )
        elif environ.get("OPENAI_BASE_URL") or environ.get("OPENAI_API_KEY"):
            default = ModelConfig(
                backend="openai",
                base_url=environ.get("OPENAI_BASE_URL"),
                api_key=environ.get("OPENAI_API_KEY"),
            )
        else:
            default = ModelConfig(backend="scripted")
        return cls(models or {}, default)

    def config_for(self, model: str) -> ModelConfig:
        return self.models.get(model) or self.models.get("*") or self.default

    def backend_for(self, model: str) -> ModelBackend:
        config = self.config_for(model)
        if config not in self._backends:
            self._backends[config] = _build(config)
        return self._backends[config]

    def describe(self) -> list[tuple[str, str]]:
        rows = [(name, _describe(config)) for name, config in self.models.items()]
        if "*" not in self.models:
            rows.append(("*", _describe(self.default)))
        return rows

    async def close(self) -> None:
        for backend in self._backends.values():
            await backend.close()
        self._backends.clear()


def _describe(config: ModelConfig) -> str:
    if config.backend == "scripted":
        return "scripted rules (no model configured)"
    where = config.base_url or "https://api.openai.com/v1"
    return f"{config.backend} at {where}"


def _build(config: ModelConfig) -> ModelBackend:
    if config.backend == "scripted":
        from ferry.models.backends.scripted import ScriptedBackend

        return ScriptedBackend()
    from ferry.models.backends.openai import OpenAIBackend

    if config.backend == "azure-openai" and not config.base_url:
        raise ConfigError("an azure-openai model needs base_url (AZURE_OPENAI_ENDPOINT)")
    return OpenAIBackend.from_config(config)
