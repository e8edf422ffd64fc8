"""An indexed function: what the loader learned and every trigger and invoker relies on."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ferry.types import JSONObject

__all__ = ["TRIGGER_TYPES", "Binding", "FunctionSpec", "Param"]

TRIGGER_TYPES = ("queueTrigger", "httpTrigger", "timerTrigger")
"""The triggers Ferry runs; output bindings are `queue` and `http`."""


@dataclass(frozen=True)
class Binding:
    """One entry of the function's bindings, as the library's `get_raw_bindings()` gives it."""

    name: str
    type: str
    direction: str  # "in" or "out"
    settings: JSONObject

    def setting(self, key: str, default: Any = None) -> Any:
        return self.settings.get(key, default)


@dataclass(frozen=True)
class Param:
    """A Python parameter bound to a binding, with how its value is converted."""

    name: str
    binding: Binding
    pytype: Any
    """The annotation (inside `Out[...]` for outputs); None when there is none."""
    converter: str
    """The binding registry key whose converter applies, or "generic" for plain str/bytes."""


@dataclass
class FunctionSpec:
    name: str
    func: Callable[..., Any]
    file: str
    line: int
    trigger: Binding
    trigger_param: Param
    inputs: dict[str, Param] = field(default_factory=dict)
    outputs: dict[str, Param] = field(default_factory=dict)
    returns: Param | None = None
    wants_context: bool = False

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.func)

    @property
    def queue_outputs(self) -> list[Param]:
        found = [p for p in self.outputs.values() if p.binding.type == "queue"]
        if self.returns is not None and self.returns.binding.type == "queue":
            found.append(self.returns)
        return found
