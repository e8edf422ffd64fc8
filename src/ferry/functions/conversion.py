"""Arguments in, outputs out, through the `azure-functions` library's own converters.

What the Python worker receives from the real host as protobuf `TypedData` is a
`meta.Datum` here; the library decodes it into `QueueMessage`, `HttpRequest`, `TimerRequest`
and encodes what the function returns or sets on an `Out`. Plain `str`/`bytes` parameters
take the worker's "generic" path.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import azure.functions as func
from azure.functions import meta
from azure.functions._abc import RetryContext, TraceContext

from ferry.functions.spec import Param

__all__ = ["Context", "Datum", "Out", "converter_for", "decode", "encode", "queue_payloads"]

Datum = meta.Datum


class Out(func.Out[Any]):
    """The value a function sets on an output parameter."""

    def __init__(self) -> None:
        self._value: Any = None

    def set(self, val: Any) -> None:
        self._value = val

    def get(self) -> Any:
        return self._value


class _TraceContext(TraceContext):
    def __init__(self, parent: str) -> None:
        self._parent = parent

    @property
    def trace_state(self) -> str:
        return ""

    @property
    def trace_parent(self) -> str:
        return self._parent

    @property
    def attributes(self) -> dict[str, str]:
        return {}


class _RetryContext(RetryContext):
    def __init__(self, retry_count: int, max_retry_count: int) -> None:
        self._count = retry_count
        self._max = max_retry_count

    @property
    def retry_count(self) -> int:
        return self._count

    @property
    def max_retry_count(self) -> int:
        return self._max

    @property
    def exception(self) -> Any:
        return None


class Context(func.Context):
    """`context` for functions that ask for it, as the worker passes it."""

    _local = threading.local()

    def __init__(
        self,
        invocation_id: str,
        function_name: str,
        directory: str,
        *,
        retry_count: int = 0,
        max_retry_count: int = 0,
    ) -> None:
        self._invocation_id = invocation_id
        self._function_name = function_name
        self._directory = directory
        trace = f"00-{invocation_id.replace('-', '')}-{invocation_id[:16].replace('-', '0')}-01"
        self._trace = _TraceContext(trace)
        self._retry = _RetryContext(retry_count, max_retry_count)

    @property
    def invocation_id(self) -> str:
        return self._invocation_id

    @property
    def thread_local_storage(self) -> Any:
        return self._local

    @property
    def function_name(self) -> str:
        return self._function_name

    @property
    def function_directory(self) -> str:
        return self._directory

    @property
    def trace_context(self) -> TraceContext:
        return self._trace

    @property
    def retry_context(self) -> RetryContext:
        return self._retry


def converter_for(kind: str) -> Any:
    """The library's converter class registered for a binding type (None if there is none)."""
    registry = func.get_binding_registry()  # type: ignore[no-untyped-call]
    return registry.get(kind)


def decode(param: Param, datum: Datum, metadata: dict[str, Datum]) -> Any:
    """The argument for `param` from the trigger's data."""
    if param.converter == "generic":
        value = datum.value
        if param.pytype is str and isinstance(value, bytes):
            return value.decode("utf-8", errors="replace")
        if param.pytype is bytes and isinstance(value, str):
            return value.encode("utf-8")
        return value
    converter = converter_for(param.converter)
    return converter.decode(datum, trigger_metadata=metadata)


def encode(param: Param, value: Any) -> Datum | None:
    """What a function produced for an output, as a Datum (None: nothing to write)."""
    if value is None:
        return None
    if param.converter == "generic":
        if isinstance(value, str):
            return Datum(value, "string")
        if isinstance(value, bytes | bytearray):
            return Datum(bytes(value), "bytes")
        raise TypeError(f"output '{param.name}' expects str or bytes, got {type(value).__name__}")
    converter = converter_for(param.converter)
    try:
        return converter.encode(value, expected_type=param.pytype)  # type: ignore[no-any-return]
    except NotImplementedError:
        raise TypeError(
            f"output '{param.name}' ({param.binding.type}) cannot carry a {type(value).__name__}"
        ) from None


def queue_payloads(datum: Datum) -> list[bytes]:
    """The messages a queue output Datum stands for: one, or one per item of a JSON list."""
    if datum.type == "string":
        return [str(datum.value).encode("utf-8")]
    if datum.type == "bytes":
        return [bytes(datum.value)]
    if datum.type == "json":
        value = json.loads(datum.value)
        items = value if isinstance(value, list) else [value]
        payloads = []
        for item in items:
            if isinstance(item, dict) and "body" in item:
                item = item["body"]
            if isinstance(item, str):
                payloads.append(item.encode("utf-8"))
            else:
                payloads.append(json.dumps(item).encode("utf-8"))
        return payloads
    raise TypeError(f"a queue output cannot carry data of type {datum.type!r}")
