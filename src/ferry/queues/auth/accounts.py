"""Storage accounts this queue service answers for, and their keys."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from ferry.errors import ConfigError

__all__ = ["DEV_ACCOUNT", "DEV_KEY", "Account", "Accounts"]

DEV_ACCOUNT = "devstoreaccount1"
DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
"""The development account's published key, which `UseDevelopmentStorage=true` implies."""


@dataclass(frozen=True, slots=True)
class Account:
    name: str
    keys: tuple[bytes, ...]
    """Decoded keys; a signature made with any of them is accepted (key rotation)."""


class Accounts(Mapping[str, Account]):
    """The development account plus any configured ones, by name."""

    def __init__(self, extra: Mapping[str, str] | None = None) -> None:
        self._accounts = {DEV_ACCOUNT: _account(DEV_ACCOUNT, DEV_KEY)}
        for name, key in (extra or {}).items():
            self._accounts[name] = _account(name, key)

    def __getitem__(self, name: str) -> Account:
        return self._accounts[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._accounts)

    def __len__(self) -> int:
        return len(self._accounts)


def _account(name: str, key: str) -> Account:
    if not (3 <= len(name) <= 24 and name.isalnum() and name == name.lower()):
        raise ConfigError(f"account name {name!r}: use 3-24 lowercase letters and digits")
    try:
        decoded = base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(f"the key of account {name!r} is not valid base64") from None
    if not decoded:
        raise ConfigError(f"the key of account {name!r} is empty")
    return Account(name, (decoded,))
