"""Which backend serves which model name: the [models] table, then the environment."""

from __future__ import annotations

from pathlib import Path

import pydantic
import pytest

from ferry.errors import ConfigError
from ferry.models.backend import ChatMessage, ChatRequest
from ferry.models.backends.local import LocalBackend
from ferry.models.backends.local.weights import find_weights
from ferry.models.backends.openai import OpenAIBackend
from ferry.models.backends.scripted import ScriptedBackend
from ferry.models.config import ModelConfig
from ferry.models.router import ModelRouter
from tests.fakes.openai_server import FakeOpenAIServer

SCRIPTED = ModelConfig(backend="scripted")


async def test_nothing_configured_means_the_embedded_model() -> None:
    router = ModelRouter.from_environment({})
    backend = router.backend_for("gpt-4o")
    assert isinstance(backend, LocalBackend)
    assert backend.path == find_weights()
    [(pattern, where)] = router.describe()
    assert pattern == "*"
    assert where.startswith("embedded SmolLM2-135M-Instruct") or "NOT INSTALLED" in where
    await router.close()


async def test_the_fallback_can_be_the_scripted_rules() -> None:
    router = ModelRouter.from_environment({}, fallback="scripted")
    assert isinstance(router.backend_for("gpt-4o"), ScriptedBackend)
    assert router.describe() == [("*", "scripted rules (no model configured)")]
    assert router.prepare() == []
    await router.close()


async def test_prepare_starts_each_local_model_once(tmp_path: Path) -> None:
    model = tmp_path / "mine.gguf"
    model.write_bytes(b"not a model")
    models = {
        "mine": ModelConfig(backend="local", path=str(model), call_threshold=4.5),
        "also-mine": ModelConfig(backend="local", path=str(model), call_threshold=4.5),
        "remote": ModelConfig(backend="openai", base_url="http://one.example/v1"),
    }
    router = ModelRouter.from_environment({}, models, fallback="scripted")
    assert router.describe()[0] == ("mine", f"local model {model} (llama.cpp)")
    [(what, loading)] = router.prepare()
    assert str(model) in what
    assert "call threshold 4.5" in what
    assert "cannot load the embedded model" in str(loading.exception(timeout=30))
    await router.close()


@pytest.mark.parametrize(
    ("environ", "base_url"),
    [
        ({"OPENAI_API_KEY": "sk-x"}, None),
        ({"OPENAI_BASE_URL": "http://127.0.0.1:11434/v1"}, "http://127.0.0.1:11434/v1"),
    ],
)
async def test_openai_from_the_environment(environ: dict[str, str], base_url: str | None) -> None:
    router = ModelRouter.from_environment(environ)
    config = router.config_for("gpt-4o")
    assert config.backend == "openai"
    assert config.base_url == base_url
    assert config.api_key == environ.get("OPENAI_API_KEY")
    backend = router.backend_for("gpt-4o")
    assert isinstance(backend, OpenAIBackend)
    assert backend.name == "openai"
    assert backend.base_url.rstrip("/") == (base_url or "https://api.openai.com/v1")
    assert router.describe() == [("*", f"openai at {base_url or 'https://api.openai.com/v1'}")]
    await router.close()


async def test_azure_wins_over_openai() -> None:
    environ = {
        "AZURE_OPENAI_ENDPOINT": "https://res.openai.azure.com",
        "AZURE_OPENAI_API_KEY": "azure-key",
        "OPENAI_API_KEY": "sk-x",
    }
    router = ModelRouter.from_environment(environ)
    assert router.config_for("dep") == ModelConfig(
        backend="azure-openai",
        base_url="https://res.openai.azure.com",
        api_key="azure-key",
        api_version="2024-10-21",
    )
    assert router.backend_for("dep").name == "azure-openai"
    await router.close()


def test_azure_api_version_from_the_environment() -> None:
    router = ModelRouter.from_environment(
        {"AZURE_OPENAI_ENDPOINT": "https://res.openai.azure.com", "OPENAI_API_VERSION": "v9"}
    )
    assert router.default.api_version == "v9"


async def test_table_entries_win_exact_name_first() -> None:
    models = {
        "gpt-4o": ModelConfig(backend="openai", base_url="http://a.example/v1", model="4o"),
        "*": ModelConfig(backend="openai", base_url="http://star.example/v1"),
    }
    router = ModelRouter.from_environment({"OPENAI_API_KEY": "sk-env"}, models)

    assert router.config_for("gpt-4o").base_url == "http://a.example/v1"
    assert router.config_for("other").base_url == "http://star.example/v1"
    # Keys left out of the table come from the environment.
    assert router.config_for("other").api_key == "sk-env"
    assert router.describe() == [
        ("gpt-4o", "openai at http://a.example/v1 as '4o'"),
        ("*", "openai at http://star.example/v1"),
    ]
    await router.close()


async def test_unlisted_names_fall_back_to_the_environment() -> None:
    router = ModelRouter.from_environment({}, {"demo": SCRIPTED}, fallback="scripted")
    assert router.config_for("demo") is router.models["demo"]
    assert router.config_for("other") == SCRIPTED
    assert [name for name, _ in router.describe()] == ["demo", "*"]


async def test_backends_are_cached_per_config() -> None:
    models = {
        "a": ModelConfig(backend="openai", base_url="http://one.example/v1"),
        "b": ModelConfig(backend="openai", base_url="http://one.example/v1"),
        "c": ModelConfig(backend="openai", base_url="http://two.example/v1"),
    }
    router = ModelRouter.from_environment({}, models)
    assert router.backend_for("a") is router.backend_for("b")
    assert router.backend_for("a") is not router.backend_for("c")
    assert router.backend_for("x") is router.backend_for("y")
    await router.close()
    assert router._backends == {}


@pytest.mark.parametrize(
    ("config", "words"),
    [
        (ModelConfig(backend="azure-openai", api_key="k"), "Azure OpenAI endpoint"),
        (ModelConfig(backend="openai"), "base_url"),
        (ModelConfig(backend="openai", base_url="localhost:8000"), "http(s) URL"),
        (ModelConfig(backend="local", path="/nonexistent/model.gguf"), "no model file"),
        (
            ModelConfig(backend="openai", base_url="http://x.example/v1", path="/m.gguf"),
            "local models only",
        ),
        (
            ModelConfig(backend="openai", base_url="http://x.example/v1", call_threshold=2.0),
            "call_threshold is for local models only",
        ),
    ],
)
def test_bad_configs(config: ModelConfig, words: str) -> None:
    with pytest.raises(ConfigError, match=r"model 'm'") as caught:
        ModelRouter.from_environment({}, {"m": config})
    assert words in str(caught.value)


def test_unknown_config_fields_are_refused() -> None:
    with pytest.raises(pydantic.ValidationError):
        ModelConfig.model_validate({"backend": "openai", "endpoint": "http://x"})
    with pytest.raises(pydantic.ValidationError):
        ModelConfig.model_validate({"backend": "llama"})


async def test_a_routed_model_reaches_its_server(openai_server: FakeOpenAIServer) -> None:
    models = {"agent-model": ModelConfig(backend="openai", base_url=openai_server.base_url)}
    router = ModelRouter.from_environment({}, models)
    openai_server.push_text("routed")
    try:
        request = ChatRequest(model="agent-model", messages=[ChatMessage("user", "hi")])
        result = await router.backend_for("agent-model").complete(request)
    finally:
        await router.close()
    assert result.text == "routed"
    assert openai_server.requests[0].body["model"] == "agent-model"


def test_a_config_sets_the_clients_timeout_and_retries() -> None:
    config = ModelConfig(
        backend="openai", base_url="http://x.example/v1", timeout=0.5, max_retries=0
    )
    backend = OpenAIBackend.from_config(config)
    assert backend.client.timeout == 0.5
    assert backend.client.max_retries == 0
    default = OpenAIBackend.from_config(ModelConfig(backend="openai", base_url="http://x/v1"))
    assert default.client.timeout == 120.0 and default.client.max_retries == 2
    with pytest.raises(pydantic.ValidationError):
        ModelConfig(backend="openai", timeout=0)
