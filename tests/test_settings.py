"""Settings precedence: flags > FERRY_* environment > ferry.toml > defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from ferry.errors import ConfigError
from ferry.settings import Settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("FERRY_DATA", "FERRY_QUEUE_PORT", "FERRY_ACCOUNTS", "FERRY_CONFIG", "FERRY_HOST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def test_defaults() -> None:
    settings = Settings.load()
    assert settings.queue_port == 10001
    assert settings.data == Path(".ferry")
    assert settings.database_url is None


def test_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "ferry.toml").write_text('queue_port = 1111\nhost = "0.0.0.0"\ndata = "toml"\n')
    assert Settings.load().queue_port == 1111
    monkeypatch.setenv("FERRY_QUEUE_PORT", "2222")
    settings = Settings.load()
    assert (settings.queue_port, settings.host) == (2222, "0.0.0.0")
    assert Settings.load(queue_port=3333).queue_port == 3333
    # A flag that was not given (None) does not hide the environment.
    assert Settings.load(queue_port=None).queue_port == 2222


def test_explicit_config_file(tmp_path: Path) -> None:
    config = tmp_path / "other.toml"
    config.write_text("queue_port = 4444\n")
    assert Settings.load(config).queue_port == 4444
    with pytest.raises(ConfigError, match="does not exist"):
        Settings.load(tmp_path / "missing.toml")


def test_accounts_in_azurite_form(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FERRY_ACCOUNTS", "acct1:a2V5MQ==;acct2:a2V5Mg==:c2Vjb25k")
    assert Settings.load().accounts == {"acct1": "a2V5MQ==", "acct2": "a2V5Mg=="}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("FERRY_QUEUE_PORT", "eighty"),
        ("FERRY_QUEUE_PORT", "70000"),
        ("FERRY_ACCOUNTS", "nokey"),
        ("FERRY_WORKERS", "-1"),
        ("FERRY_WORKERS", "65"),
        ("FERRY_WORKERS", "two"),
    ],
)
def test_bad_values_are_config_errors(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError):
        Settings.load()


def test_unknown_toml_key(tmp_path: Path) -> None:
    (tmp_path / "ferry.toml").write_text("queue_prot = 1\n")
    with pytest.raises(ConfigError, match="queue_prot"):
        Settings.load()
