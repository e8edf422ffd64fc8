"""Call one function: arguments converted, sync code in the thread pool, async code on the
loop, `functionTimeout` enforced, outputs collected only when the call succeeds."""

from __future__ import annotations

import asyncio
import contextvars
import time
import traceback
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ferry.clock import system_clock
from ferry.functions.conversion import Context, Datum, Out, decode, encode
from ferry.functions.logs import current_invocation, host_log
from ferry.functions.records import InvocationRecord, InvocationRecords
from ferry.functions.spec import FunctionSpec, Param

__all__ = ["Invocation", "Invoker"]


@dataclass
class Invocation:
    """What happened: on success the outputs to write, on failure the error."""

    id: str
    function: str
    succeeded: bool
    duration_ms: float
    outputs: list[tuple[Param, Datum]] = field(default_factory=list)
    returned: Datum | None = None
    error: str | None = None
    timed_out: bool = False
    trigger: str = ""
    started_at: int = 0
    """Epoch milliseconds."""
    dequeue_count: int | None = None
    correlation_id: str | None = None

    @property
    def http_response(self) -> Datum | None:
        """What an HTTP function answered: its return value or its `http` output."""
        return next((d for p, d in self.outputs if p.binding.type == "http"), None)

    def record(self) -> InvocationRecord:
        """What is kept of it, as it stands now (outputs that could not be written make a
        success a failure)."""
        outcome = "succeeded" if self.succeeded else ("timed_out" if self.timed_out else "failed")
        return InvocationRecord(
            id=self.id,
            function=self.function,
            trigger=self.trigger,
            started_at=self.started_at,
            duration_ms=round(self.duration_ms),
            outcome=outcome,
            dequeue_count=self.dequeue_count,
            error=self.error,
            correlation_id=self.correlation_id,
        )


def _timespan(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


class Invoker:
    def __init__(
        self,
        folder: Path,
        *,
        timeout: float | None,
        records: InvocationRecords | None = None,
        workers: int | None = None,
    ) -> None:
        self.folder = str(folder)
        self.timeout = timeout
        self.records = records
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ferry-fn")
        self.running: set[asyncio.Task[Any]] = set()

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)

    async def invoke(
        self,
        function: FunctionSpec,
        datum: Datum,
        metadata: dict[str, Datum],
        *,
        reason: str,
        dequeue_count: int | None = None,
        max_dequeue_count: int = 0,
        record: bool = True,
    ) -> Invocation:
        """Call `function`; with `record`, its record is written now, else the caller writes
        it (`Invoker.record`, or within its own transaction)."""
        invocation_id = str(uuid.uuid4())
        started = time.perf_counter()
        host_log.info(
            "Executing 'Functions.%s' (Reason='%s', Id=%s)", function.name, reason, invocation_id
        )
        result = Invocation(
            invocation_id,
            function.name,
            False,
            0.0,
            trigger=function.trigger.type,
            started_at=system_clock(),
            dequeue_count=dequeue_count,
        )
        try:
            args, outs = self._arguments(
                function, datum, metadata, invocation_id, dequeue_count, max_dequeue_count
            )
            returned = await self._call(function, args, invocation_id)
            if returned is not None and function.returns is None:
                raise TypeError(
                    f"function '{function.name}' has no return binding but returned a "
                    f"{type(returned).__name__}"
                )
            for name, out in outs.items():
                param = function.outputs[name]
                encoded = encode(param, out.get())
                if encoded is not None:
                    result.outputs.append((param, encoded))
            if function.returns is not None:
                result.returned = encode(function.returns, returned)
                if result.returned is not None:
                    result.outputs.append((function.returns, result.returned))
            result.succeeded = True
        except TimeoutError:
            result.timed_out = True
            result.error = (
                f"Timeout value of {_timespan(self.timeout or 0)} exceeded by function "
                f"'Functions.{function.name}' (Id: '{invocation_id}')"
            )
            result.outputs.clear()
        except Exception as exc:
            result.error = "".join(traceback.format_exception(exc)).rstrip()
            result.outputs.clear()
        result.duration_ms = (time.perf_counter() - started) * 1000
        self._report(result, reason)
        if record:
            await self.record(result)
        return result

    async def record(self, invocation: Invocation) -> None:
        """Keep the invocation's record (if this host keeps records)."""
        if self.records is None:
            return
        try:
            await self.records.add(invocation.record())
        except Exception as exc:  # a record is not worth failing the invocation
            host_log.warning("could not record invocation %s: %s", invocation.id, exc)

    def _arguments(
        self,
        function: FunctionSpec,
        datum: Datum,
        metadata: dict[str, Datum],
        invocation_id: str,
        dequeue_count: int | None,
        max_dequeue_count: int,
    ) -> tuple[dict[str, Any], dict[str, Out]]:
        args: dict[str, Any] = {
            function.trigger_param.name: decode(function.trigger_param, datum, metadata)
        }
        outs = {name: Out() for name in function.outputs}
        args.update(outs)
        if function.wants_context:
            args["context"] = Context(
                invocation_id,
                function.name,
                self.folder,
                retry_count=max(0, (dequeue_count or 1) - 1),
                max_retry_count=max_dequeue_count,
            )
        return args, outs

    async def _call(self, function: FunctionSpec, args: dict[str, Any], invocation_id: str) -> Any:
        token = current_invocation.set((function.name, invocation_id))
        try:
            if function.is_async:
                return await asyncio.wait_for(function.func(**args), self.timeout)
            context = contextvars.copy_context()
            loop = asyncio.get_running_loop()
            future = loop.run_in_executor(self.pool, lambda: context.run(function.func, **args))
            return await asyncio.wait_for(future, self.timeout)
        finally:
            current_invocation.reset(token)

    @staticmethod
    def _report(result: Invocation, reason: str) -> None:
        if result.succeeded:
            host_log.info(
                "Executed 'Functions.%s' (Succeeded, Id=%s, Duration=%dms)",
                result.function,
                result.id,
                result.duration_ms,
            )
            return
        host_log.error(
            "Executed 'Functions.%s' (Failed, Id=%s, Duration=%dms)\n%s",
            result.function,
            result.id,
            result.duration_ms,
            result.error,
        )
