"""The exception tree stays one tree: every FerryError lives in an errors.py, `ferry.errors`
draws every family, and both services answer a store failure alike."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import ferry
import ferry.errors
from ferry.agents.wire import to_agents_error
from ferry.errors import FerryError
from ferry.queues.wire import to_queue_error
from ferry.store.errors import SchemaError, StoreError, StoreUnavailable


def _ferry_errors() -> list[type[FerryError]]:
    """Every FerryError subclass Ferry defines, once every module is imported (so that none
    is missed because nothing imported it yet)."""
    for info in pkgutil.walk_packages(ferry.__path__, "ferry."):
        if ".migrations" in info.name or info.name == "ferry.__main__":
            continue
        importlib.import_module(info.name)
    found: list[type[FerryError]] = []
    pending = [FerryError]
    while pending:
        for sub in pending.pop().__subclasses__():
            if sub not in found:
                found.append(sub)
                pending.append(sub)
    return [cls for cls in found if cls.__module__.startswith("ferry.")]


def test_every_ferry_error_is_defined_in_an_errors_module() -> None:
    astray = [
        f"{cls.__module__}.{cls.__qualname__}"
        for cls in _ferry_errors()
        if cls.__module__.rsplit(".", 1)[-1] != "errors"
    ]
    assert not astray, f"define these in their part's errors.py: {astray}"


def test_the_tree_in_ferry_errors_names_every_family_root() -> None:
    doc = ferry.errors.__doc__ or ""
    roots = [cls for cls in _ferry_errors() if FerryError in cls.__bases__]
    assert roots
    for root in roots:
        module = root.__module__.removeprefix("ferry.")
        named = root.__name__ if module == "errors" else f"{module}.{root.__name__}"
        assert named in doc, f"ferry/errors.py's tree does not draw {named}"


BUSY = (503, "ServerBusy", "service_unavailable")
FAILED = (500, "InternalError", "server_error")


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (StoreUnavailable("the disk is full"), BUSY),
        (StoreError("disk I/O error"), FAILED),
        (SchemaError("the disk holds a newer schema"), FAILED),
    ],
)
def test_both_services_answer_a_store_failure_alike(
    error: StoreError, expected: tuple[int, str, str]
) -> None:
    queues = to_queue_error(error)
    agents = to_agents_error(error)
    assert (queues.status, queues.code, agents.code) == expected
    assert agents.status == queues.status
    assert "disk" not in agents.message and "disk" not in queues.message  # never shown
