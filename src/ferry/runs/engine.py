"""The run engine: claims runs that have work, and moves each one step forward at a time.

A run advances by small, recorded steps: start it; ask the model; record the answer (a
message, or tool calls with the queue calls they need) before acting on it; send queue calls;
wait (releasing the lease, with `wake_at` at the nearest deadline) until every call has an
output; ask the model again. Each step is read back from the database, so a process that
dies between any two of them loses nothing: whoever claims the run next, here or on another
machine sharing PostgreSQL, carries on from the last recorded step.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import functools
import logging
import os
import socket
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from ferry.agents.ids import new_id
from ferry.agents.objects import message_object, step_object, text_content
from ferry.agents.store import TERMINAL
from ferry.agents.tools import queue_binding
from ferry.clock import Clock, system_clock
from ferry.models.backend import ChatResult, ModelError
from ferry.models.router import ModelRouter
from ferry.queues.endpoint import DEFAULT_TTL
from ferry.queues.locator import QueueLocator, account_from_url
from ferry.runs.bus import RunBus
from ferry.runs.errors import LeaseLost
from ferry.runs.ledger import Ledger, QueueCall, RunState
from ferry.runs.prompt import arguments_object, build_request, tool_specs
from ferry.runs.queuecalls import AnswerCollector, encode_call
from ferry.store.signals import RUNS, signals_for

__all__ = ["RunEngine"]

log = logging.getLogger(__name__)

Json = dict[str, Any]

TOOL_TIMEOUT_KEY = "ferry_tool_timeout"
"""Agent metadata key: seconds an `azure_function` call may take before the run fails."""


@dataclass(frozen=True, slots=True)
class Draft:
    step: Json
    message: Json


def _error(code: str, message: str) -> Json:
    return {"code": code, "message": message}


class RunEngine:
    def __init__(
        self,
        database: Any,
        models: ModelRouter,
        locator: QueueLocator,
        *,
        clock: Clock = system_clock,
        owner: str | None = None,
        lease_seconds: float = 30.0,
        tool_timeout: float = 300.0,
        max_runs: int = 2048,
        poll_interval: float = 1.0,
        bus: RunBus | None = None,
    ) -> None:
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.ledger = Ledger(database, self.owner, clock)
        self.models = models
        self.locator = locator
        self.clock = clock
        self.lease_ms = int(lease_seconds * 1000)
        self.tool_timeout_ms = int(tool_timeout * 1000)
        self.max_runs = max_runs
        self.poll_interval = poll_interval
        self.bus = bus
        """Told of every stored change and of the model's text as it comes, for streams."""
        self.signals = signals_for(database)
        """How processes sharing the database hear of each other's changes to runs."""
        self.collector = AnswerCollector(self.ledger, locator, self.wake)
        self._wakeup = asyncio.Event()
        self._active: dict[str, asyncio.Task[None]] = {}
        self._ensured: set[tuple[str, str]] = set()
        """Output queues made sure of (by URL and name), once per process."""
        self._loop_task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """Something changed (a run created, answered, cancelled): look for work now."""
        self._wakeup.set()

    async def start(self) -> None:
        self.signals.listen(RUNS, self._heard)
        self.collector.start()
        self._loop_task = asyncio.create_task(self._claim_loop(), name="ferry-run-engine")

    def _heard(self, run_id: str) -> None:
        """A run changed in some process (this one's own changes come back too; streams
        have had those already): streams here may show it; it may have work."""
        if run_id in self._active:
            return
        if self.bus is not None:
            self.bus.changed(run_id)
        self.wake()

    async def stop(self) -> None:
        """Stop claiming; runs being worked on are left to their leases (another worker, or
        this one restarted, takes them over), never half-written."""
        tasks = [t for t in (self._loop_task, *self._active.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.collector.stop()

    # Claiming ------------------------------------------------------------------------------

    async def _claim_loop(self) -> None:
        while True:
            self._wakeup.clear()
            free = self.max_runs - len(self._active)
            claimed: list[str] = []
            if free > 0:
                try:
                    claimed = await self.ledger.claim(min(free, 256), self.lease_ms)
                except Exception:
                    log.exception("cannot claim runs")
            for run_id in claimed:
                task = asyncio.create_task(self._work(run_id), name=f"ferry-run-{run_id}")
                self._active[run_id] = task
                task.add_done_callback(functools.partial(self._forget, run_id))
            if claimed and len(claimed) == min(free, 256):
                continue
            await self._sleep()

    def _forget(self, run_id: str, task: asyncio.Task[None]) -> None:
        self._active.pop(run_id, None)

    async def _sleep(self) -> None:
        timeout = self.poll_interval
        with contextlib.suppress(Exception):
            wake_at = await self.ledger.next_wake()
            if wake_at is not None:
                timeout = max(0.0, min(timeout, (wake_at - self.clock()) / 1000))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), timeout)

    async def _work(self, run_id: str) -> None:
        renewer = asyncio.create_task(self._renew(run_id))
        try:
            # Read once per lease: each step keeps `state` as it stores it, so the next step
            # needs no second read (answers that come meanwhile wake the run, see below).
            state = await self.ledger.load(run_id)
            while state is not None and await self._advance(state):
                pass
        except LeaseLost:
            log.info("run %s was taken over by another worker", run_id)
        except Exception:
            log.exception("run %s: unexpected error; it will be retried", run_id)
        finally:
            renewer.cancel()

    async def _renew(self, run_id: str) -> None:
        while True:
            await asyncio.sleep(self.lease_ms / 3000)
            with contextlib.suppress(Exception):
                if not await self.ledger.renew(run_id, self.lease_ms):
                    return

    async def _commit(
        self,
        run: Json,
        *,
        wake_at: int | None,
        release: bool,
        also: Callable[[Connection], bool | None] | None = None,
        events: Sequence[tuple[str, Json]] = (),
        steps: Sequence[Json] = (),
        messages: Sequence[Json] = (),
    ) -> None:
        """`ledger.commit`, then news for streams: `steps` and `messages` are those `also`
        writes, passed on so that streams here need not read them back."""
        run_id = run["id"]

        def write(conn: Connection) -> bool | None:
            self.signals.announce(conn, RUNS, run_id)
            return also(conn) if also is not None else None

        await self.ledger.commit(run, wake_at=wake_at, release=release, also=write, events=events)
        if self.bus is not None:
            self.bus.changed(run_id, run, steps, messages)

    # Advancing -----------------------------------------------------------------------------

    async def _advance(self, state: RunState) -> bool:
        """Move the run one step; True if there is more to do right away, with `state`
        brought up to date."""
        run = state.run
        now = self.clock() // 1000
        status = run["status"]
        if status in TERMINAL:
            await self._commit(run, wake_at=None, release=True)
            return False
        if status == "cancelling":
            await self._end(state, "cancelled")
            return False
        if now >= run["expires_at"]:
            await self._end(state, "expired")
            return False
        if status == "queued":
            run["status"] = "in_progress"
            run["started_at"] = run["started_at"] or now
            await self._commit(
                run, wake_at=self.clock(), release=False, events=[("run.in_progress", {})]
            )
            return True
        step = next(
            (
                s
                for s in reversed(state.steps)
                if s["type"] == "tool_calls" and s["status"] == "in_progress"
            ),
            None,
        )
        if step is not None:
            return await self._wait_for_outputs(state, step)
        return await self._model_turn(state)

    async def _end(
        self, state: RunState, status: str, error: Json | None = None, *, calls: str = "cancelled"
    ) -> None:
        """Finish the run as failed, cancelled or expired; its open steps and calls with it."""
        run = state.run
        now = self.clock() // 1000
        stamp = {"failed": "failed_at", "cancelled": "cancelled_at", "expired": "expired_at"}
        run["status"] = status
        run["required_action"] = None
        if status == "failed":
            run["last_error"] = error
            run["failed_at"] = now
        elif status == "cancelled":
            run["cancelled_at"] = now
        open_steps = [s for s in state.steps if s["status"] == "in_progress"]
        for step in open_steps:
            step["status"] = status
            step[stamp[status]] = now
            step["last_error"] = error

        def also(conn: Connection) -> None:
            for step in open_steps:
                Ledger.save_step(conn, state.project, step, new=False)
            Ledger.close_calls(conn, run["id"], calls if status != "expired" else "expired")

        await self._commit(
            run,
            wake_at=None,
            release=True,
            also=also,
            events=[(f"run.{status}", error or {})],
            steps=open_steps,
        )

    async def _wait_for_outputs(self, state: RunState, step: Json) -> bool:
        run = state.run
        now_ms = self.clock()
        queued = {c.call_id: c for c in state.calls}
        missing_functions: list[Json] = []
        waiting: list[QueueCall] = []
        for call in step["step_details"]["tool_calls"]:
            queue_call = queued.get(call["id"])
            if queue_call is not None:
                if queue_call.state == "answered" and call["function"]["output"] is None:
                    call["function"]["output"] = queue_call.output
                call["queue"]["status"] = queue_call.state
                call["queue"]["answered_at"] = (
                    queue_call.answered_at // 1000 if queue_call.answered_at else None
                )
                if queue_call.state == "pending":
                    waiting.append(queue_call)
            elif call["function"]["output"] is None:
                missing_functions.append(call)
        if not waiting and not missing_functions:
            step["status"] = "completed"
            step["completed_at"] = now_ms // 1000
            run["status"] = "in_progress"
            await self._commit(
                run,
                wake_at=now_ms,
                release=False,
                also=lambda conn: Ledger.save_step(conn, state.project, step, new=False),
                steps=[step],
            )
            return True
        late = [c for c in waiting if c.deadline <= now_ms]
        if late:
            call = late[0]
            seconds = (call.deadline - (call.sent_at or call.deadline)) / 1000
            message = (
                f"tool '{call.tool}' got no answer on queue '{call.output_queue}' "
                f"({call.output_url}) within {seconds:.0f} s (CorrelationId {call.correlation_id}, "
                f"sent to queue '{call.input_queue}')"
            )
            await self._end(state, "failed", _error("tool_timeout", message), calls="timed_out")
            return False
        for call in waiting:
            if call.sent_at is None:
                await self._send(call)
        if missing_functions:
            run["status"] = "requires_action"
            run["required_action"] = {
                "type": "submit_tool_outputs",
                "submit_tool_outputs": {
                    "tool_calls": [
                        {
                            "id": c["id"],
                            "type": "function",
                            "function": {
                                "name": c["function"]["name"],
                                "arguments": c["function"]["arguments"],
                            },
                        }
                        for c in missing_functions
                    ]
                },
            }
        else:
            run["status"] = "in_progress"
        wake_at = min([c.deadline for c in waiting] + [run["expires_at"] * 1000])
        waited = [c.correlation_id for c in waiting]

        def also(conn: Connection) -> bool:
            Ledger.save_step(conn, state.project, step, new=False)
            # An answer recorded since `state` was read woke a run still leased here: keep
            # it awake rather than sleep to the deadline.
            return Ledger.any_answered(conn, waited)

        await self._commit(run, wake_at=wake_at, release=True, also=also, steps=[step])
        return False

    async def _send(self, call: QueueCall) -> None:
        """Put the call's message on its input queue (again, after a crash: at least once),
        having made sure the queue it is answered on exists (functions such as the seed's
        send their answer with a plain QueueClient, which does not create it)."""
        try:
            output = (call.output_url, call.output_queue)
            if output not in self._ensured:
                await self.locator.endpoint(call.output_url).ensure(call.output_queue)
                self._ensured.add(output)
            endpoint = self.locator.endpoint(call.input_url)
            await endpoint.put(call.input_queue, call.payload)
        except Exception as exc:
            log.warning("cannot put %s on %s: %s", call.correlation_id, call.input_queue, exc)
            return
        await self.ledger.mark_sent(call.correlation_id, call.run_id)
        call.sent_at = self.clock()
        self.collector.calls_sent()

    async def _model_turn(self, state: RunState) -> bool:
        run = state.run
        request = build_request(state)
        draft = self._draft(run)
        on_delta = None
        if self.bus is not None and self.bus.watching(run["id"]):
            bus = self.bus

            async def on_delta(text: str) -> None:
                bus.delta(run["id"], draft.step, draft.message, text)

        try:
            backend = self.models.backend_for(run["model"])
            result = await backend.complete(request, on_delta)
        except ModelError as exc:
            await self._end(state, "failed", _error(exc.code, exc.message))
            return False
        except Exception as exc:
            log.exception("model backend failed for run %s", run["id"])
            await self._end(state, "failed", _error("server_error", f"model backend error: {exc}"))
            return False
        usage = run.get("usage") or {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
        usage["prompt_tokens"] += result.usage.prompt_tokens
        usage["completion_tokens"] += result.usage.completion_tokens
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        run["usage"] = usage
        event = ("model.turn", {"model": run["model"], "backend": backend.name})
        if result.tool_calls:
            return await self._record_tool_calls(state, result, event)
        await self._record_message(state, result, event, draft)
        return False

    def _draft(self, run: Json) -> Draft:
        """The step and message a text answer will be stored as, named before the model is
        asked, so the pieces streamed meanwhile already carry their ids."""
        now = self.clock() // 1000
        message = message_object(
            run["thread_id"],
            "assistant",
            "",
            now,
            run_id=run["id"],
            assistant_id=run["assistant_id"],
            status="in_progress",
        )
        step = step_object(
            run,
            {"type": "message_creation", "message_creation": {"message_id": message["id"]}},
            now,
        )
        return Draft(step, message)

    async def _record_message(
        self, state: RunState, result: ChatResult, event: tuple[str, Json], draft: Draft
    ) -> None:
        run = state.run
        now = self.clock() // 1000
        # Copies: streams may still be announcing the drafts as they were.
        message = copy.deepcopy(draft.message)
        message["content"] = text_content(result.text or "")
        message["status"] = "completed"
        message["completed_at"] = now
        step = copy.deepcopy(draft.step)
        step["status"] = "completed"
        step["completed_at"] = now
        step["usage"] = {
            "prompt_tokens": result.usage.prompt_tokens,
            "completion_tokens": result.usage.completion_tokens,
            "total_tokens": result.usage.total_tokens,
        }
        if result.finish_reason == "length":
            run["status"] = "incomplete"
            run["incomplete_details"] = {"reason": "max_completion_tokens"}
            message["status"] = "incomplete"
            message["incomplete_details"] = {"reason": "max_tokens"}
            message["completed_at"] = None
            message["incomplete_at"] = now
        else:
            run["status"] = "completed"
            run["completed_at"] = now

        def also(conn: Connection) -> None:
            Ledger.save_message(conn, state.project, message)
            Ledger.save_step(conn, state.project, step, new=True)

        await self._commit(
            run,
            wake_at=None,
            release=True,
            also=also,
            events=[event, (f"run.{run['status']}", {})],
            steps=[step],
            messages=[message],
        )

    async def _record_tool_calls(
        self, state: RunState, result: ChatResult, event: tuple[str, Json]
    ) -> bool:
        run = state.run
        now_ms = self.clock()
        specs = tool_specs(run.get("tools") or [])
        tools_by_name = {
            (t["azure_function"] if t["type"] == "azure_function" else t)["function"]["name"]: t
            for t in run.get("tools") or []
        }
        step = step_object(run, {"type": "tool_calls", "tool_calls": []}, now_ms // 1000)
        calls: list[Json] = []
        queue_calls: list[QueueCall] = []
        timeout_ms = self._tool_timeout(state)
        for tool_call in result.tool_calls:
            if tool_call.name not in specs:
                message = (
                    f"the model called '{tool_call.name}', which is not one of the run's tools"
                )
                await self._end(state, "failed", _error("invalid_tool_call", message))
                return False
            call: Json = {
                "id": tool_call.id or new_id("call"),
                "type": "function",
                "function": {
                    "name": tool_call.name,
                    "arguments": tool_call.arguments,
                    "output": None,
                },
            }
            tool = tools_by_name[tool_call.name]
            if tool["type"] == "azure_function":
                arguments = arguments_object(tool_call.arguments)
                if arguments is None:
                    message = (
                        f"the model called '{tool_call.name}' with arguments that are not a "
                        f"JSON object: {tool_call.arguments[:200]}"
                    )
                    await self._end(state, "failed", _error("invalid_tool_call", message))
                    return False
                body = tool["azure_function"]
                source = queue_binding(body["input_binding"], "input_binding")
                answer = queue_binding(body["output_binding"], "output_binding")
                correlation_id = str(uuid.uuid4())
                queue_calls.append(
                    QueueCall(
                        correlation_id=correlation_id,
                        run_id=run["id"],
                        step_id=step["id"],
                        call_id=call["id"],
                        tool=tool_call.name,
                        input_url=source.endpoint,
                        input_queue=source.queue,
                        output_url=answer.endpoint,
                        output_queue=answer.queue,
                        payload=encode_call(arguments, correlation_id, answer.url),
                        state="pending",
                        deadline=now_ms + timeout_ms,
                    )
                )
                call["queue"] = {
                    "correlation_id": correlation_id,
                    "input_queue": source.url,
                    "output_queue": answer.url,
                    "status": "pending",
                    "deadline": (now_ms + timeout_ms) // 1000,
                    "answered_at": None,
                }
            calls.append(call)
        step["step_details"]["tool_calls"] = calls

        # Calls on queues this process keeps in its own store are put in the same transaction
        # that records them: sent exactly when recorded, with no write of their own.
        local = [
            (queue_call, account)
            for queue_call in queue_calls
            if (account := self._local_account(queue_call.input_url)) is not None
        ]
        for queue_call, _account in local:
            queue_call.sent_at = now_ms

        def also(conn: Connection) -> None:
            Ledger.save_step(conn, state.project, step, new=True)
            Ledger.add_calls(conn, state.project, queue_calls, now_ms)
            for queue_call, account in local:
                self._put_within(conn, queue_call, account)

        await self._commit(
            run, wake_at=now_ms, release=False, also=also, events=[event], steps=[step]
        )
        state.steps.append(step)
        state.calls.extend(queue_calls)
        if local:
            self._sent_locally(local)
        for queue_call in queue_calls:
            if queue_call.sent_at is None:
                await self._send(queue_call)
        return True

    def _local_account(self, url: str) -> str | None:
        """The account, if `url` names one whose queues live in this process's store."""
        account, loopback = account_from_url(url)
        store = self.locator.local.store if self.locator.local is not None else None
        shared = store is not None and store.database is self.ledger.database
        return account if loopback and shared and self.locator.serves(account) else None

    def _put_within(self, conn: Connection, call: QueueCall, input_account: str) -> None:
        assert self.locator.local is not None
        store = self.locator.local.store
        output_account = self._local_account(call.output_url)
        if output_account is not None:
            store.ensure_within(conn, output_account, call.output_queue)
        store.put_within(conn, input_account, call.input_queue, call.payload, ttl=DEFAULT_TTL)

    def _sent_locally(self, calls: list[tuple[QueueCall, str]]) -> None:
        """After the commit: wake this process's consumers of the input queues."""
        assert self.locator.local is not None
        arrivals = self.locator.local.store.arrivals
        for call, account in calls:
            if arrivals is not None:
                arrivals.notify(account, call.input_queue)
            self._ensured.add((call.output_url, call.output_queue))
        self.collector.calls_sent()

    def _tool_timeout(self, state: RunState) -> int:
        metadata = (state.assistant or {}).get("metadata") or {}
        raw = metadata.get(TOOL_TIMEOUT_KEY)
        try:
            return int(float(raw) * 1000) if raw else self.tool_timeout_ms
        except ValueError:
            return self.tool_timeout_ms
