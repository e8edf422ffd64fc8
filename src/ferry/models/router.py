"""Which backend serves an agent's model name.

Entries of the `[models]` settings table win (exact name first, then `"*"`); otherwise the
environment decides, as the `openai` client's own variables do: `AZURE_OPENAI_ENDPOINT` means
Azure OpenAI (the agent's model is the deployment), `OPENAI_BASE_URL` or `OPENAI_API_KEY`
means an OpenAI-compatible server; with neither, the fallback answers: the embedded model
(`local`, the default) or the scripted rules (`scripted`, which tests choose). A table entry
that leaves out its URL or key takes it from those same variables, so secrets can stay out of
files.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from ferry.errors import ConfigError
from ferry.models.backend import ModelBackend
from ferry.models.config import DEFAULT_AZURE_API_VERSION, Fallback, ModelConfig

__all__ = ["ModelRouter"]


class ModelRouter:
    """Maps agent model names to backends; one backend object per distinct config, reused."""

    def __init__(self, models: Mapping[str, ModelConfig], default: ModelConfig) -> None:
        for name, config in [*models.items(), ("(environment)", default)]:
            _check(name, config)
        self.models = dict(models)
        self.default = default
        self._backends: dict[ModelConfig, ModelBackend] = {}

    @classmethod
    def from_environment(
        cls,
        environ: Mapping[str, str],
        models: Mapping[str, ModelConfig] | None = None,
        fallback: Fallback = "local",
    ) -> ModelRouter:
        if environ.get("AZURE_OPENAI_ENDPOINT"):
            default = ModelConfig(backend="azure-openai")
        elif environ.get("OPENAI_BASE_URL") or environ.get("OPENAI_API_KEY"):
            default = ModelConfig(backend="openai")
        else:
            default = ModelConfig(backend=fallback)
        entries = {name: _complete(config, environ) for name, config in (models or {}).items()}
        return cls(entries, _complete(default, environ))

    def config_for(self, model: str) -> ModelConfig:
        if model in self.models:
            return self.models[model]
        return self.models.get("*", self.default)

    def backend_for(self, model: str) -> ModelBackend:
        config = self.config_for(model)
        backend = self._backends.get(config)
        if backend is None:
            backend = self._backends[config] = _build(config)
        return backend

    def prepare(self) -> list[tuple[str, Future[Any]]]:
        """Start loading every local model a name can route to, in the background; returns
        (what, loading) pairs for whoever wants to show progress."""
        from ferry.models.backends.local import LocalBackend

        loading: list[tuple[str, Future[Any]]] = []
        for name in [*self.models, "*"]:
            backend = self.backend_for(name)
            if isinstance(backend, LocalBackend) and all(
                future is not backend.start_loading() for _, future in loading
            ):
                loading.append((backend.describe(), backend.start_loading()))
        return loading

    def describe(self) -> list[tuple[str, str]]:
        """(model-name pattern, where it runs) rows, for the startup banner."""
        rows = [(name, _describe(config)) for name, config in self.models.items()]
        if "*" not in self.models:
            rows.append(("*", _describe(self.default)))
        return rows

    async def close(self) -> None:
        backends = list(self._backends.values())
        self._backends.clear()
        for backend in backends:
            await backend.close()


def _complete(config: ModelConfig, environ: Mapping[str, str]) -> ModelConfig:
    """Fill what `config` leaves out from the variables the `openai` client reads."""
    if config.backend == "azure-openai":
        filled = {
            "base_url": config.base_url or environ.get("AZURE_OPENAI_ENDPOINT"),
            "api_key": config.api_key or environ.get("AZURE_OPENAI_API_KEY"),
            "api_version": config.api_version
            or environ.get("OPENAI_API_VERSION")
            or DEFAULT_AZURE_API_VERSION,
        }
    elif config.backend == "openai":
        filled = {
            "base_url": config.base_url or environ.get("OPENAI_BASE_URL"),
            "api_key": config.api_key or environ.get("OPENAI_API_KEY"),
        }
    else:
        return config
    return config.model_copy(update={k: v or None for k, v in filled.items()})


def _check(name: str, config: ModelConfig) -> None:
    where = f"model {name!r} ({config.backend})"
    if config.backend == "azure-openai" and not config.base_url:
        raise ConfigError(f"{where} needs base_url, the Azure OpenAI endpoint")
    if config.backend == "openai" and not (config.base_url or config.api_key):
        raise ConfigError(f"{where} needs base_url (an OpenAI-compatible server) or api_key")
    if config.path and config.backend != "local":
        raise ConfigError(f"{where}: path is for local models only")
    if config.call_threshold is not None and config.backend != "local":
        raise ConfigError(f"{where}: call_threshold is for local models only")
    if config.path and not Path(config.path).is_file():
        raise ConfigError(f"{where}: no model file at {config.path}")
    if config.base_url and not config.base_url.startswith(("http://", "https://")):
        raise ConfigError(f"{where}: base_url must be an http(s) URL, not {config.base_url!r}")


def _describe(config: ModelConfig) -> str:
    if config.backend == "scripted":
        return "scripted rules (no model configured)"
    if config.backend == "local":
        from ferry.models.backends.local.weights import EMBEDDED, embedded_available

        if config.path:
            return f"local model {config.path} (llama.cpp)"
        if embedded_available():
            return f"embedded {EMBEDDED.name} (llama.cpp, in process)"
        return f"embedded model, NOT INSTALLED: {EMBEDDED.install}"
    where = config.base_url or "https://api.openai.com/v1"
    served = f" as {config.model!r}" if config.model else ""
    return f"{config.backend} at {where}{served}"


def _build(config: ModelConfig) -> ModelBackend:
    if config.backend == "scripted":
        from ferry.models.backends.scripted import ScriptedBackend

        return ScriptedBackend()
    if config.backend == "local":
        from ferry.models.backends.local import LocalBackend

        return LocalBackend(
            Path(config.path) if config.path else None, call_threshold=config.call_threshold
        )
    from ferry.models.backends.openai import OpenAIBackend

    return OpenAIBackend.from_config(config)
