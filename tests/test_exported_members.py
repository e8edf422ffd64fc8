"""Every module's `__all__` names things that exist: the public surface is deliberate."""

from __future__ import annotations

import importlib
import pkgutil

import ferry


def test_all_names_exist() -> None:
    for module_info in pkgutil.walk_packages(ferry.__path__, "ferry."):
        if ".migrations" in module_info.name or module_info.name == "ferry.__main__":
            continue
        module = importlib.import_module(module_info.name)
        for name in getattr(module, "__all__", []):
            assert hasattr(module, name), f"{module_info.name}.__all__ names missing {name!r}"
