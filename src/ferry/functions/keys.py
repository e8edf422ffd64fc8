"""Function, host and master keys, kept in the data folder as the real host keeps its
secrets in storage; `ferry keys` shows them, `--enable-auth` enforces them."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from ferry.files import replace_file

__all__ = ["HostKeys", "load_keys"]

KEYS_FILE = "function-keys.json"


def _new_key() -> str:
    return secrets.token_urlsafe(40)


@dataclass
class HostKeys:
    master: str
    host: dict[str, str] = field(default_factory=dict)
    functions: dict[str, dict[str, str]] = field(default_factory=dict)

    def allows(self, level: str, function: str, key: str | None) -> bool:
        """Whether `key` may call a function of this auth level (anonymous: always)."""
        if level == "anonymous":
            return True
        if not key:
            return False
        if secrets.compare_digest(key, self.master):
            return True
        if level == "admin":
            return False
        candidates = [*self.host.values(), *self.functions.get(function.lower(), {}).values()]
        return any(secrets.compare_digest(key, candidate) for candidate in candidates)

    def to_json(self) -> dict[str, object]:
        return {"master": self.master, "host": self.host, "functions": self.functions}


def load_keys(data: Path, functions: list[str]) -> HostKeys:
    """The keys in `<data>/function-keys.json`, adding a default key for new functions."""
    path = data / KEYS_FILE
    keys = HostKeys(master=_new_key(), host={"default": _new_key()})
    changed = True
    if path.exists():
        try:
            stored = json.loads(path.read_text())
            keys = HostKeys(
                master=str(stored["master"]),
                host={str(k): str(v) for k, v in stored.get("host", {}).items()},
                functions={
                    str(name).lower(): {str(k): str(v) for k, v in entries.items()}
                    for name, entries in stored.get("functions", {}).items()
                },
            )
            changed = False
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            changed = True  # unreadable: start over with fresh keys
    for name in functions:
        if name.lower() not in keys.functions:
            keys.functions[name.lower()] = {"default": _new_key()}
            changed = True
    if changed:
        data.mkdir(parents=True, exist_ok=True)
        replace_file(path, json.dumps(keys.to_json(), indent=2).encode(), private=True)
    return keys
