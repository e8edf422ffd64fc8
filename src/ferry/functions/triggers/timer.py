"""Timer triggers: six-field NCRONTAB schedules (seconds first), `run_on_startup`, and
`past_due` when an occurrence was missed (the host was down, or fired late)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import UTC, datetime
from typing import Any

from croniter import croniter

from ferry.clock import Clock, from_millis, system_clock, to_millis
from ferry.functions.conversion import Datum
from ferry.functions.errors import AppLoadError
from ferry.functions.invoker import Invoker
from ferry.functions.outputs import OutputWriter, resolve_name
from ferry.functions.schedules import TimerSchedules
from ferry.functions.spec import FunctionSpec

__all__ = ["TimerTrigger", "next_occurrence", "timer_datum"]

LATE_MS = 1000
"""An occurrence fired more than this late is reported as past due."""


def next_occurrence(schedule: str, after_ms: int) -> int:
    """The first occurrence strictly after `after_ms` (epoch ms, UTC)."""
    start = from_millis(after_ms)
    following = croniter(schedule, start, second_at_beginning=True).get_next(datetime)
    return to_millis(following)


def timer_datum(past_due: bool, last: int | None, next_run: int, now: int) -> Datum:
    def iso(millis: int | None) -> str | None:
        return None if millis is None else from_millis(millis).isoformat()

    return Datum(
        json.dumps(
            {
                "Schedule": {"AdjustForDST": True},
                "ScheduleStatus": {
                    "Last": iso(last),
                    "Next": iso(next_run),
                    "LastUpdated": iso(now),
                },
                "IsPastDue": past_due,
            }
        ),
        "json",
    )


class TimerTrigger:
    def __init__(
        self,
        function: FunctionSpec,
        invoker: Invoker,
        outputs: OutputWriter,
        schedules: TimerSchedules,
        clock: Clock = system_clock,
    ) -> None:
        self.function = function
        self.invoker = invoker
        self.outputs = outputs
        self.schedules = schedules
        self.clock = clock
        where: dict[str, Any] = {
            "function": function.name,
            "file": function.file,
            "line": function.line,
        }
        raw = str(function.trigger.setting("schedule", ""))
        try:
            self.schedule = resolve_name(raw, f"function '{function.name}'").strip()
        except Exception as exc:
            raise AppLoadError(str(exc), **where) from None
        if len(self.schedule.split()) != 6 or not croniter.is_valid(
            self.schedule, second_at_beginning=True
        ):
            raise AppLoadError(
                f"timer schedule {self.schedule!r} is not a six-field NCRONTAB expression "
                "('{second} {minute} {hour} {day} {month} {day-of-week}')",
                **where,
            )
        self.run_on_startup = bool(function.trigger.setting("runOnStartup", False))
        self.stopping = asyncio.Event()
        self.running: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        name = self.function.name
        now = self.clock()
        state = await self.schedules.get(name)
        if state is None or state.schedule != self.schedule:
            state = await self.schedules.reset(
                name, self.schedule, next_occurrence(self.schedule, now)
            )
        if self.run_on_startup:
            self._fire(past_due=False, last=state.last_run, next_run=state.next_run)
        while not self.stopping.is_set():
            state = await self.schedules.get(name) or state
            due = state.next_run
            wait = (due - self.clock()) / 1000
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), timeout=min(wait, 60))
                continue
            now = self.clock()
            following = next_occurrence(self.schedule, max(now, due))
            if await self.schedules.claim(name, due, following, now):
                self._fire(past_due=now - due > LATE_MS, last=state.last_run, next_run=following)

    def _fire(self, *, past_due: bool, last: int | None, next_run: int) -> None:
        task = asyncio.create_task(self._invoke(past_due, last, next_run))
        self.running.add(task)
        task.add_done_callback(self.running.discard)

    async def _invoke(self, past_due: bool, last: int | None, next_run: int) -> None:
        datum = timer_datum(past_due, last, next_run, self.clock())
        reason = "Timer fired at " + datetime.now(UTC).isoformat()
        invocation = await self.invoker.invoke(self.function, datum, {}, reason=reason)
        await self.outputs.settle(invocation)

    async def stop(self, grace: float) -> None:
        self.stopping.set()
        if self.running:
            await asyncio.wait(list(self.running), timeout=grace)
