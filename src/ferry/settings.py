"""Settings: command-line flags > `FERRY_*` environment > `ferry.toml` > defaults.

A command builds `Settings.load(config_file, **flags)` with only the flags the user gave; every
other value comes from the environment, then the TOML file, then the defaults below.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from ferry.errors import ConfigError
from ferry.knowledge.embeddings import EmbeddingsConfig
from ferry.models.config import Fallback, ModelConfig

__all__ = ["DEFAULT_CONFIG_FILE", "Settings"]

DEFAULT_CONFIG_FILE = Path("ferry.toml")


class Settings(BaseSettings):
    """Everything a Ferry process can be told; the field name is the TOML key and the
    environment variable after the `FERRY_` prefix."""

    model_config = SettingsConfigDict(env_prefix="FERRY_", extra="forbid", frozen=True)

    data: Path = Field(default=Path(".ferry"), description="folder for the embedded store")
    python_envs: Path | None = Field(
        default=None,
        description="folder of the Python environments `ferry start` installs apps' "
        "requirements.txt into (default: <data>/python)",
    )
    database_url: str | None = Field(
        default=None, description="postgresql://… to share state between processes"
    )
    host: str = "127.0.0.1"
    queue_port: int = Field(default=10001, ge=0, le=65535)
    http_port: int = Field(default=7071, ge=0, le=65535, description="functions HTTP port")
    agents_port: int = Field(default=8443, ge=0, le=65535, description="agent service port")
    queue_tls_port: int = Field(
        default=10011, ge=0, le=65535, description="queue service HTTPS port (ferry start)"
    )
    identity_port: int = Field(
        default=10013, ge=0, le=65535, description="managed-identity token endpoint port"
    )
    identity_secret: str | None = Field(
        default=None,
        min_length=16,
        description="the X-IDENTITY-HEADER the token endpoint demands (default: a new random "
        "one per start); set it where apps get the endpoint from elsewhere, as in a cluster",
    )
    tls_names: list[str] = Field(
        default_factory=list,
        description="extra host names or addresses for the local server certificate",
    )
    tool_timeout: float = Field(
        default=300.0,
        gt=0,
        description="seconds an azure_function tool call may wait for its answer",
    )
    code_sandbox: str = Field(
        default="auto",
        description="how code_interpreter isolates model-written code: 'auto' (bubblewrap "
        "when it runs here, else the tool is refused), 'bwrap' (required), 'unsafe' (no "
        "isolation, only resource limits: an explicit opt-in) or 'off'",
    )
    code_timeout: float = Field(
        default=120.0, gt=0, le=3600, description="seconds one code_interpreter call may run"
    )
    code_idle: float = Field(
        default=3600.0,
        gt=0,
        description="seconds an idle code_interpreter session (a thread's Python kernel) lives",
    )
    mcp_timeout: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="seconds an MCP server gets to list its tools or answer one call (an "
        "mcp tool's own 'timeout' wins)",
    )
    workers: int = Field(
        default=0,
        ge=0,
        le=64,
        description="`ferry start`: this many `ferry worker` processes work runs beside the "
        "serving process, sharing its store, to use more cores (0: that process alone)",
    )
    run_lease: float = Field(
        default=30.0,
        gt=0,
        description="seconds a worker holds a run (or a file it ingests); a dead worker's "
        "runs and files move on after it",
    )
    fallback_model: Fallback = Field(
        default="local",
        description="what serves agents when no model server is configured: 'local' (the "
        "embedded model) or 'scripted' (fixed rules, for tests)",
    )
    models: dict[str, ModelConfig] = Field(
        default_factory=dict,
        description="agent model name (or '*') → backend, e.g. [models.'gpt-4o-mini']",
    )
    embeddings: EmbeddingsConfig | None = Field(
        default=None,
        description="the embeddings model for hybrid file search, e.g. [embeddings] model = "
        "'text-embedding-3-small' (or FERRY_EMBEDDINGS_MODEL with OPENAI_BASE_URL); "
        "without one, file search is full-text only",
    )
    accounts: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict,
        description="extra storage accounts, name → base64 key ('name:key;name2:key2' in env)",
    )
    shutdown_grace: float = Field(
        default=30.0,
        ge=0,
        description="seconds running function invocations get to finish at shutdown",
    )
    trigger_hold: int = Field(
        default=600,
        ge=1,
        description="seconds a queue-triggered message stays hidden while its function runs "
        "(renewed at half); a host that dies lets it reappear after this (the real host: 600)",
    )
    purge_interval: float = Field(
        default=5.0, gt=0, description="seconds between sweeps of expired queue messages"
    )

    @field_validator("accounts", mode="before")
    @classmethod
    def _parse_accounts(cls, value: Any) -> Any:
        """Accept Azurite's `AZURITE_ACCOUNTS` form, `name:key;name2:key2`, as well as a table."""
        if not isinstance(value, str):
            return value
        if value.lstrip().startswith("{"):
            return json.loads(value)
        accounts: dict[str, str] = {}
        for entry in filter(None, (part.strip() for part in value.split(";"))):
            name, sep, key = entry.partition(":")
            if not sep or not name or not key:
                raise ValueError(f"account entry {entry!r} is not 'name:base64key'")
            accounts[name] = key.split(":")[0]
        return accounts

    @classmethod
    def load(cls, config_file: Path | None = None, **flags: Any) -> Settings:
        """Build settings from flags given (None means "not given"), environment and file."""
        given = {name: value for name, value in flags.items() if value is not None}
        path = config_file or Path(os.environ.get("FERRY_CONFIG", DEFAULT_CONFIG_FILE))
        if config_file is not None and not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        _TomlFile.path = path
        try:
            return cls(**given)
        except SettingsError as exc:
            raise ConfigError(f"invalid settings: {exc}") from None
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}"
                for err in exc.errors()
            )
            raise ConfigError(f"invalid settings: {problems}") from None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, _TomlFile(settings_cls)

    @property
    def sqlite_path(self) -> Path:
        return self.data / "ferry.db"

    @property
    def python_envs_folder(self) -> Path:
        return self.python_envs or self.data / "python"


class _TomlFile(TomlConfigSettingsSource):
    """The TOML source, reading whichever file `Settings.load` was pointed at."""

    path: Path = DEFAULT_CONFIG_FILE

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls, toml_file=self.path)
