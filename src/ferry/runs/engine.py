"""The run engine: claims runs that have work, and moves each one step forward at a time.

A run advances by small, recorded steps: start it; ask the model; record what it answered (a
message, or tool calls) together with what the run does next (wait for the calls' outputs,
with the calls on Ferry's own queues put in the same transaction); when the outputs are in,
ask the model again. Each commit is read back from the database on the next lease, so a
process that dies between any two of them loses nothing: whoever claims the run next, here or
on another machine sharing PostgreSQL, carries on from the last recorded step.

Classic runs and v2 responses are the same runs: they differ only in what the run does when
the model calls a client-side `function` (`client_calls`: a classic run waits in
requires_action; a response ends, and the client goes on with a new response), and in whether
the stream's news are logged (`RunState.news`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import os
import socket
import time
import uuid
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from opentelemetry.trace import Span

from ferry import tracing
from ferry.clock import Clock, system_clock
from ferry.errors import FerryError
from ferry.ids import new_id
from ferry.models.backend import (
    ChatRequest,
    ChatResult,
    ImagePart,
    ModelBackend,
    ModelError,
    ToolCall,
)
from ferry.models.router import ModelRouter
from ferry.queues.endpoints.local import LocalEndpoint
from ferry.queues.locator import QueueLocator
from ferry.runs.builtin import BuiltinTool, ToolResult
from ferry.runs.bus import RunBus, Snapshot
from ferry.runs.calls import Act, Call
from ferry.runs.errors import LeaseLost
from ferry.runs.ledger import Change, Ledger, RunState
from ferry.runs.news import Newsroom
from ferry.runs.prompt import FILE_IMAGE, arguments_object, build_request
from ferry.runs.queuecalls import AnswerCollector, encode_call
from ferry.runs.records import (
    call_item,
    message_item,
    step_record,
    text_parts,
    usage_record,
)
from ferry.runs.spancontent import input_messages, output_messages
from ferry.runs.status import TERMINAL, CallState, RunStatus, StepStatus
from ferry.runs.tools import binding_of, tool_specs
from ferry.store.signals import RUNS, signals_for
from ferry.tracing import RunTrace
from ferry.types import Json

__all__ = ["RunEngine"]

log = logging.getLogger(__name__)

_STAMPS = {
    RunStatus.FAILED: "failed_at",
    RunStatus.CANCELLED: "cancelled_at",
    RunStatus.EXPIRED: "expired_at",
}


class ImageSource(Protocol):
    async def data_url(self, project: str, file_id: str) -> str:
        """The uploaded image as a `data:` URL; a `FerryError` says why it cannot be."""
        ...


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
        builtins: Sequence[BuiltinTool] = (),
        images: ImageSource | None = None,
        unavailable: dict[str, str] | None = None,
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
        self.images = images
        """Where `image_file` parts' bytes come from."""
        self.builtins = {tool.kind: tool for tool in builtins}
        """Tools the engine carries out itself (file_search), by tool type."""
        self.unavailable = dict(unavailable or {})
        """Why tool types it cannot carry out here cannot be (no sandbox for code), by type."""
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
        self._starting: set[str] = set()
        """Calls of tools that act this worker recorded as started and is about to carry
        out; one recorded as started but not here was interrupted by a crash."""

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
            # Read once per lease: each commit brings `state` up to date, so the next step
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

    async def _commit(self, state: RunState, change: Change, room: Newsroom) -> RunStatus:
        """`ledger.commit` with the news the room holds, then news for streams here."""
        change.news = room.take()
        was = state.status
        stored = await self.ledger.commit(state, change)
        self._tell(state, change, change.news, stored)
        if stored in TERMINAL and was not in TERMINAL and tracing.enabled():
            error = state.run.get("last_error") or {}
            RunTrace(state.id, state.run).ended(
                stored,
                state.conversation_id,
                self.clock(),
                f"{error.get('code')}: {error.get('message')}" if error else None,
            )
        return stored

    def _tell(self, state: RunState, change: Change, news: list[Json], status: str) -> None:
        """Streams in this process learn the run as `change` leaves it."""
        if self.bus is None or not self.bus.watching(state.id):
            return
        snapshot = Snapshot(
            status,
            state.run,
            tuple(change.new_steps) + tuple(change.steps),
            tuple(change.items) + tuple(change.done_items),
            tuple(
                (i["call_id"], i["output"])
                for i in state.own
                if i["type"] == "function_call_output"
            ),
            tuple(state.calls),
        )
        self.bus.changed(state.id, snapshot, news)

    # Advancing -----------------------------------------------------------------------------

    async def _advance(self, state: RunState) -> bool:
        """Move the run one step; True if there is more to do right away, with `state`
        brought up to date."""
        room = Newsroom(state)
        run = state.run
        now = self.clock() // 1000
        if state.status in TERMINAL:
            await self._commit(state, Change(state.status, None, release=True), room)
            return False
        if state.status == RunStatus.CANCELLING:
            await self._end(state, room, RunStatus.CANCELLED)
            return False
        if run.get("expires_at") is not None and now >= run["expires_at"]:
            await self._end(state, room, RunStatus.EXPIRED)
            return False
        if state.status == RunStatus.QUEUED:
            run["started_at"] = run.get("started_at") or now
            room.status(RunStatus.IN_PROGRESS)
            change = Change(
                RunStatus.IN_PROGRESS,
                self.clock(),
                release=False,
                events=[("run.in_progress", {})],
            )
            missing = self._missing_tool(state)
            if missing is not None:
                await self._end(state, room, RunStatus.FAILED, missing, prior=change)
                return False
            failure = await self._expand(state, change)
            if failure is not None:
                await self._end(state, room, RunStatus.FAILED, failure, prior=change)
                return False
            self._answer_requests(state, change, room)
            if change.calls or _open_tool_step(state) is not None:
                # Calls to make first: approved ones, or a classic run queued again with
                # its tool step's outputs or approvals in.
                await self._commit(state, change, room)
                return True
            # A run that starts with the model: its start is stored with what the model
            # first answers, one commit fewer (a crash before it leaves the run queued, and
            # the next worker starts it). Streams here hear of it now, not once it has.
            self._tell(state, change, room.pending, RunStatus.IN_PROGRESS)
            return await self._model_turn(state, room, change)
        step = _open_tool_step(state)
        if step is not None:
            return await self._tool_step(state, step, room)
        return await self._model_turn(state, room, Change(RunStatus.IN_PROGRESS, None, False))

    def _missing_tool(self, state: RunState) -> Json | None:
        """The error that fails a run whose tools include one this engine cannot carry
        out (checked as it starts, before the model is asked anything)."""
        for tool in state.run.get("tools") or []:
            kind = tool["type"]
            if kind in ("function", "azure_function") or kind in self.builtins:
                continue
            reason = self.unavailable.get(kind, "this Ferry process does not carry it out")
            return _error("tool_unavailable", f"the {kind} tool is not available: {reason}")
        return None

    async def _expand(self, state: RunState, change: Change) -> Json | None:
        """Ask each built-in tool what it offers this run (an MCP server's tools), once, as
        the run starts; kept in the run so every later turn (and worker) offers the same.
        A tool that cannot say is the run's error (returned), rather than a retry forever."""
        expanded: Json = {}
        step: Json | None = None
        for index, tool in enumerate(state.run.get("tools") or []):
            builtin = self.builtins.get(tool["type"])
            if builtin is None:
                continue
            try:
                expansion = await builtin.expand(state, tool)
            except Exception as exc:
                log.exception("run %s: the %s tool could not start", state.id, tool["type"])
                message = f"the {tool['type']} tool could not start: {exc}"
                return _error("tool_unavailable", message)
            if expansion is None:
                continue
            expanded[str(index)] = [function.record() for function in expansion.functions]
            now = self.clock() // 1000
            if expansion.items and step is None:
                # What the tools offer is the run's first step (classic: `activities`).
                step = step_record("activities", now, status=StepStatus.COMPLETED)
                change.new_steps.append(step)
            for item in expansion.items:
                made = {"id": new_id(item["type"][:4]), "created_at": now, **item}
                change.items.append({**made, "step_id": step["id"] if step else None})
            change.events.append(
                (
                    "tool.expanded",
                    {"tool": tool["type"], "functions": [f.name for f in expansion.functions]},
                )
            )
        if expanded:
            state.run["expanded"] = expanded
        return None

    def _answer_requests(self, state: RunState, change: Change, room: Newsroom) -> None:
        """A v2 response whose input answers approval requests of earlier responses makes
        those calls now (or tells the model they were refused), as its first tool step."""
        answers = [i for i in state.own if i["type"] == "mcp_approval_response"]
        if not answers:
            return
        requests = {i["id"]: i for i in state.context if i.get("approval_request")}
        now_ms = self.clock()
        step = step_record("tool_calls", now_ms // 1000)
        for answer in answers:
            request = requests.get(answer["approval_request_id"])
            builtin = self.builtins.get(request["tool"]) if request else None
            if request is None or builtin is None:
                continue
            call = Call(
                id=new_id("fc"),
                run_id=state.id,
                step_id=step["id"],
                call_id=new_id("call"),
                kind=request["tool"],
                name=request["name"],
                state=CallState.PENDING,
                created_at=now_ms,
                payload=Act.STARTED if answer["approve"] else Act.REFUSED,
            )
            item = call_item(
                call.call_id, call.name, request["arguments"], call.kind, now_ms // 1000
            )
            keep = ("server_label", "target")
            item.update({key: request[key] for key in keep if key in request})
            item.update(id=call.id, step_id=step["id"], approval_request_id=request["id"])
            if answer["approve"]:
                tool = tool_specs(state.run).get(call.name, ({"type": call.kind}, None))[0]
                call.deadline = now_ms + int(builtin.timeout(tool) * 1000)
                self._starting.add(call.id)
            change.calls.append(call)
            change.items.append(item)
            room.call_made(state, item, done=False)
        if change.calls:
            change.new_steps.append(step)

    async def _end(
        self,
        state: RunState,
        room: Newsroom,
        status: RunStatus,
        error: Json | None = None,
        *,
        calls: CallState = CallState.CANCELLED,
        prior: Change | None = None,
    ) -> None:
        """Finish the run as failed, cancelled or expired; its open steps and calls with it."""
        run = state.run
        now = self.clock() // 1000
        stamp = _STAMPS[status]
        run[stamp] = now
        if status == RunStatus.FAILED:
            run["last_error"] = error
        change = prior or Change(status, None, release=True)
        change.status, change.wake_at, change.release = status, None, True
        changed = {step["id"] for step in change.new_steps}
        for step in [*change.new_steps, *state.steps]:
            if step["status"] == StepStatus.IN_PROGRESS:
                step["status"] = status
                step[stamp] = now
                step["last_error"] = error
                if step["id"] not in changed:
                    change.steps.append(step)
        change.close_calls = CallState.EXPIRED if status == RunStatus.EXPIRED else calls
        change.events.append((f"run.{status}", error or {}))
        room.status(status)
        await self._commit(state, change, room)

    async def _tool_step(self, state: RunState, step: Json, room: Newsroom) -> bool:
        """The run woke with a tool step open: an answer came, a deadline passed, or the
        client's outputs arrived."""
        calls = [c for c in state.calls if c.step_id == step["id"]]
        pending = [c for c in calls if c.state == CallState.PENDING]
        for call in calls:
            if call.state == CallState.ANSWERED:
                room.answered(state, call)
        acting = [c for c in pending if self._acts(c) and c.payload != Act.APPROVAL]
        if acting:
            await self._act(state, room, acting)
            return True
        if not pending:
            step["status"] = StepStatus.COMPLETED
            step["completed_at"] = self.clock() // 1000
            self._traced_calls(state, calls)
            prior = Change(RunStatus.IN_PROGRESS, None, False, steps=[step])
            return await self._model_turn(state, room, prior)
        now_ms = self.clock()
        late = [c for c in pending if c.queued and c.deadline is not None and c.deadline <= now_ms]
        if late:
            await self._time_out(state, room, late[0])
            return False
        unsent = [c for c in pending if c.queued and c.sent_at is None]
        for call in unsent:
            await self._send(call)
        change = self._waiting(state, step, pending, Change(state.status, None, True), room)
        await self._commit(state, change, room)
        return False

    def _traced_calls(
        self, state: RunState, calls: Sequence[Call], error: str | None = None
    ) -> None:
        """The `execute_tool` spans of the queue calls of a step that is over."""
        if not tracing.enabled():
            return
        run_trace = RunTrace(state.id, state.run)
        for call in calls:
            if call.correlation_id is None:
                continue
            run_trace.tool_done(
                call.name,
                call.call_id,
                call.correlation_id,
                call.sent_at or call.created_at,
                call.answered_at or self.clock(),
                error if call.state != CallState.ANSWERED else None,
            )

    def _waiting(
        self, state: RunState, step: Json, pending: list[Call], change: Change, room: Newsroom
    ) -> Change:
        """How the run waits for `pending` calls: for queue answers until the nearest deadline;
        for the client's outputs in requires_action (classic), or not at all (v2: the run
        ends, and the client answers in the next one)."""
        run = state.run
        queued = [c for c in pending if c.queued]
        for_client = [c for c in pending if c.for_client]
        change.release = True
        change.waiting = [c.id for c in queued]
        expires = run["expires_at"] * 1000 if run.get("expires_at") else None
        deadlines = [c.deadline for c in queued if c.deadline is not None]
        if expires is not None:
            deadlines.append(expires)
        change.wake_at = min(deadlines) if deadlines else None
        if for_client and run.get("client_calls") == "end" and not queued:
            step["status"] = StepStatus.COMPLETED
            step["completed_at"] = self.clock() // 1000
            if step not in change.new_steps and step not in change.steps:
                change.steps.append(step)
            run["completed_at"] = self.clock() // 1000
            change.status = RunStatus.COMPLETED
            change.wake_at = None
            change.events.append(("run.completed", {"waiting_for": "client outputs"}))
            room.status(RunStatus.COMPLETED)
        elif for_client and run.get("client_calls") != "end":
            change.status = RunStatus.REQUIRES_ACTION
        else:
            change.status = RunStatus.IN_PROGRESS
        return change

    async def _time_out(self, state: RunState, room: Newsroom, call: Call) -> None:
        seconds = ((call.deadline or 0) - (call.sent_at or call.deadline or 0)) / 1000
        message = (
            f"tool '{call.name}' got no answer on queue '{call.output_queue}' "
            f"({call.output_url}) within {seconds:.0f} s (CorrelationId {call.correlation_id}, "
            f"sent to queue '{call.input_queue}')"
        )
        self._traced_calls(state, [call], f"tool_timeout: {message}")
        await self._end(
            state,
            room,
            RunStatus.FAILED,
            _error("tool_timeout", message),
            calls=CallState.TIMED_OUT,
        )

    async def _send(self, call: Call) -> None:
        """Put the call's message on its input queue (again, after a crash: at least once),
        having made sure the queue it is answered on exists (functions such as the seed's
        send their answer with a plain QueueClient, which does not create it)."""
        assert call.output_url and call.output_queue and call.input_url and call.input_queue
        try:
            output = (call.output_url, call.output_queue)
            if output not in self._ensured:
                await self.locator.endpoint(call.output_url).ensure(call.output_queue)
                self._ensured.add(output)
            endpoint = self.locator.endpoint(call.input_url)
            await endpoint.put(call.input_queue, call.payload or "")
        except Exception as exc:
            log.warning("cannot put %s on %s: %s", call.correlation_id, call.input_queue, exc)
            return
        await self.ledger.mark_sent(call.correlation_id or "", call.run_id)
        call.sent_at = self.clock()
        self.collector.calls_sent()

    # A model turn --------------------------------------------------------------------------

    async def _model_turn(self, state: RunState, room: Newsroom, prior: Change) -> bool:
        run = state.run
        request = build_request(state)
        now = self.clock() // 1000
        step = step_record("message_creation", now)
        item = message_item(
            "assistant", [], now, status="in_progress", agent=run.get("agent"), item_id=None
        )
        item["step_id"] = step["id"]
        on_delta = None
        if self.bus is not None and (self.bus.watching(state.id) or state.news is not None):
            bus = self.bus

            async def on_delta(text: str) -> None:
                news = room.delta(state, item, text)
                bus.delta(state.id, step, item, text, news)

        elif state.news is not None:

            async def on_delta(text: str) -> None:
                room.delta(state, item, text)

        try:
            backend = self.models.backend_for(run["model"])
            request = await self._with_images(state, request, backend)
            began = time.perf_counter()
            with self._chat_span(state) as span:
                result = await backend.complete(request, on_delta)
                if span is not None:
                    span.set_attribute("gen_ai.usage.input_tokens", result.usage.prompt_tokens)
                    span.set_attribute("gen_ai.usage.output_tokens", result.usage.completion_tokens)
                    if tracing.records_content():
                        span.set_attribute(
                            "gen_ai.input.messages", input_messages(request.messages)
                        )
                        span.set_attribute("gen_ai.output.messages", output_messages(result))
        except ModelError as exc:
            await self._end(
                state, room, RunStatus.FAILED, _error(exc.code, exc.message), prior=prior
            )
            return False
        except Exception as exc:
            log.exception("model backend failed for run %s", state.id)
            error = _error("server_error", f"model backend error: {exc}")
            await self._end(state, room, RunStatus.FAILED, error, prior=prior)
            return False
        usage = run.get("usage") or usage_record(0, 0)
        run["usage"] = usage_record(
            usage["input_tokens"] + result.usage.prompt_tokens,
            usage["output_tokens"] + result.usage.completion_tokens,
        )
        prior.events.append(
            (
                "model.turn",
                {
                    "model": run["model"],
                    "backend": backend.name,
                    "ms": round((time.perf_counter() - began) * 1000),
                    "input_tokens": result.usage.prompt_tokens,
                    "output_tokens": result.usage.completion_tokens,
                },
            )
        )
        if result.tool_calls:
            return await self._record_tool_calls(state, room, result, prior)
        await self._record_message(state, room, result, prior, step, item)
        return False

    @contextlib.contextmanager
    def _chat_span(self, state: RunState) -> Iterator[Span | None]:
        if not tracing.enabled():
            yield None
            return
        with RunTrace(state.id, state.run).chat(state.run["model"], state.conversation_id) as span:
            yield span

    async def _with_images(
        self, state: RunState, request: ChatRequest, backend: ModelBackend
    ) -> ChatRequest:
        """`request` with its uploaded images' bytes inline; a model that takes no images is
        refused here, by name, rather than shown the text alone."""
        count = sum(len(message.images) for message in request.messages)
        if not count:
            return request
        if not backend.accepts_images:
            raise ModelError(
                f"the model '{request.model}' ({backend.name} backend) does not accept images, "
                f"and the conversation has {count}; route the model to one that does "
                "(an OpenAI-compatible server in ferry.toml's [models])",
                code="invalid_request_error",
            )
        messages = []
        for message in request.messages:
            images = []
            for image in message.images:
                if image.url.startswith(FILE_IMAGE):
                    image = ImagePart(await self._image(state, image.url), image.detail)
                images.append(image)
            messages.append(dataclasses.replace(message, images=tuple(images)))
        return dataclasses.replace(request, messages=messages)

    async def _image(self, state: RunState, url: str) -> str:
        file_id = url.removeprefix(FILE_IMAGE)
        if self.images is None:
            raise ModelError(f"image file {file_id} cannot be read here", code="invalid_image")
        try:
            return await self.images.data_url(state.project, file_id)
        except FerryError as exc:
            raise ModelError(str(exc), code="invalid_image") from None

    async def _record_message(
        self,
        state: RunState,
        room: Newsroom,
        result: ChatResult,
        change: Change,
        step: Json,
        item: Json,
    ) -> None:
        run = state.run
        now = self.clock() // 1000
        content = text_parts(result.text or "")
        extra: list[Json] = []
        for builtin in self.builtins.values():
            content[0]["annotations"] += builtin.annotate(result.text or "", state.own)
            extra += builtin.contents(state.own)
        content = content + extra
        item = {**item, "content": content, "status": "completed"}
        item["completed_at"] = now
        step = {**step, "status": StepStatus.COMPLETED, "completed_at": now}
        step["usage"] = usage_record(result.usage.prompt_tokens, result.usage.completion_tokens)
        if result.finish_reason == "length":
            change.status = RunStatus.INCOMPLETE
            run["incomplete_details"] = {"reason": "max_output_tokens"}
            item["status"] = "incomplete"
            item["incomplete_details"] = {"reason": "max_tokens"}
            item["completed_at"] = None
            item["incomplete_at"] = now
        else:
            change.status = RunStatus.COMPLETED
            run["completed_at"] = now
        change.wake_at, change.release = None, True
        change.new_steps.append(step)
        change.items.append(item)
        change.events.append((f"run.{change.status}", {}))
        room.message_done(state, item)
        room.status(change.status)
        await self._commit(state, change, room)

    async def _record_tool_calls(
        self, state: RunState, room: Newsroom, result: ChatResult, change: Change
    ) -> bool:
        run = state.run
        now_ms = self.clock()
        specs = tool_specs(run)
        step = step_record("tool_calls", now_ms // 1000)
        calls: list[Call] = []
        timeout_ms = int(run.get("tool_timeout") or self.tool_timeout_ms)
        chosen = result.tool_calls
        if run.get("parallel_tool_calls") is False:
            chosen = chosen[:1]
        for tool_call in chosen:
            found = specs.get(tool_call.name)
            call = (
                self._call(state, step, found[0], tool_call, now_ms, timeout_ms) if found else None
            )
            if call is None:  # refused before anything of this turn is recorded
                refused = _error("invalid_tool_call", _refusal(tool_call, found is not None))
                await self._end(state, room, RunStatus.FAILED, refused, prior=change)
                return False
            calls.append(call)
        await self._call_items(state, room, step, calls, chosen, change)

        # Calls on queues this process keeps in its own store are put in the same transaction
        # that records them: sent exactly when recorded, with no write of their own.
        local = [
            (call, endpoint)
            for call in calls
            if call.queued and (endpoint := self._local_account(call.input_url or "")) is not None
        ]
        for call, _endpoint in local:
            call.sent_at = now_ms
        remote = [call for call in calls if call.queued and call.sent_at is None]
        change.new_steps.append(step)
        change.calls.extend(calls)
        if local:
            change.also = functools.partial(self._put_within, local)
        started = [call for call in calls if call.payload == Act.STARTED]
        pending = [
            call for call in calls if call.state == CallState.PENDING and call not in started
        ]
        if not pending or started:
            # Every call was carried out here, or some are to be carried out now that they
            # are recorded: either way the run goes on at once, under this lease (and is due
            # now, so that if this worker dies before the next commit, the next one goes on).
            change.status, change.wake_at, change.release = RunStatus.IN_PROGRESS, now_ms, False
            self._starting.update(call.id for call in started)
            await self._commit(state, change, room)
            if local:
                self._sent_locally(local)
            return True
        self._waiting(state, step, pending, change, room)
        keep_wake = change.wake_at
        if remote:
            # Keep the lease until they are sent, due now: a crash before that is seen at the
            # lease's end, and the next worker sends them.
            change.release, change.wake_at = False, now_ms
        await self._commit(state, change, room)
        if local:
            self._sent_locally(local)
        if remote:
            for call in remote:
                await self._send(call)
            release = Change(state.status, keep_wake, True, waiting=change.waiting)
            await self._commit(state, release, Newsroom(state))
        return False

    async def _call_items(
        self,
        state: RunState,
        room: Newsroom,
        step: Json,
        calls: list[Call],
        chosen: Sequence[ToolCall],
        change: Change,
    ) -> None:
        """The calls' items (and the outputs of those carried out here) into `change`."""
        specs = tool_specs(state.run)
        for call, tool_call in zip(calls, chosen, strict=True):
            item = call_item(
                call.call_id, call.name, tool_call.arguments, call.kind, step["created_at"]
            )
            item["id"] = call.id
            item["step_id"] = step["id"]
            builtin = self.builtins.get(call.kind)
            if builtin is not None:
                item.update(builtin.call_details(specs[call.name][0]))
            if call.payload == Act.APPROVAL and state.run.get("client_calls") == "end":
                item["approval_request"] = True  # the next response answers it
            if call.kind in self.builtins and not self._acts(call):
                await self._carry_out(state, specs[call.name][0], call, item)
            change.items.append(item)
            room.call_made(state, item, done=not self._acts(call))

    async def _carry_out(self, state: RunState, tool: Json, call: Call, item: Json) -> None:
        """Run a built-in tool's call now. Its output (for the model) and details (for the
        APIs) go on its item: one item per call, as the APIs show such calls."""
        result = await self.builtins[call.kind].run(
            state, tool, arguments_object(item["arguments"]) or {}
        )
        item.update(result.details)
        item["output"] = result.output
        call.state, call.answered_at = CallState.ANSWERED, self.clock()

    def _acts(self, call: Call) -> bool:
        builtin = self.builtins.get(call.kind)
        return builtin is not None and builtin.acts

    async def _act(self, state: RunState, room: Newsroom, calls: list[Call]) -> None:
        """Carry out calls of tools that act: approved ones are recorded as started first;
        each runs until its deadline, all at once; a client's cancel stops them. Their
        results go on their items in one commit, under the lease."""
        now = self.clock()
        specs = tool_specs(state.run)
        approved = [c for c in calls if c.payload == Act.APPROVED]
        for call in approved:
            tool = specs[call.name][0] if call.name in specs else {}
            call.payload = Act.STARTED
            call.deadline = now + int(self.builtins[call.kind].timeout(tool) * 1000)
            self._starting.add(call.id)
        if approved:
            start = Change(RunStatus.IN_PROGRESS, now, False, updated_calls=approved)
            start.events += [("tool.approved", {"call_id": c.call_id}) for c in approved]
            await self._commit(state, start, room)
        made = {item["id"]: item for item in state.own}
        tasks = [
            asyncio.create_task(self._perform(state, specs, call, made[call.id])) for call in calls
        ]
        watcher = asyncio.create_task(self._watch_cancel(state.id, tasks))
        try:
            results = await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            watcher.cancel()
        done, events = [], []
        for call, result in zip(calls, results, strict=True):
            if isinstance(result, asyncio.CancelledError):
                result = ToolResult(
                    "The call was stopped because the run was cancelled.",
                    {"error": {"code": "cancelled", "message": "the run was cancelled"}},
                )
            elif isinstance(result, BaseException):
                log.error("run %s: tool %s failed", state.id, call.kind, exc_info=result)
                message = f"the tool failed: {type(result).__name__}: {result}"
                result = ToolResult(
                    f"Error: {message}", {"error": {"code": "tool_error", "message": message}}
                )
            item = {**made[call.id], **result.details, "output": result.output}
            call.state, call.answered_at = CallState.ANSWERED, self.clock()
            done.append(item)
            error = result.details.get("error")
            events.append(
                ("tool.done", {"call_id": call.call_id, "tool": call.kind, "error": error})
            )
        change = Change(
            RunStatus.IN_PROGRESS,
            self.clock(),
            False,
            done_items=done,
            updated_calls=list(calls),
            events=events,
        )
        for item in done:
            room.call_done(state, item)
        await self._commit(state, change, room)

    async def _perform(
        self, state: RunState, specs: dict[str, Any], call: Call, item: Json
    ) -> ToolResult:
        builtin = self.builtins[call.kind]
        if call.name not in specs:
            self._starting.discard(call.id)
            message = f"the run no longer offers '{call.name}'"
            return ToolResult(f"Error: {message}.", {"error": {"code": "gone", "message": message}})
        tool: Json = specs[call.name][0]
        if item.get("approval_headers"):  # given with the user's approval
            headers = {**(tool.get("headers") or {}), **item["approval_headers"]}
            tool = {**tool, "headers": headers}
        arguments = arguments_object(item["arguments"]) or {}
        if call.payload == Act.REFUSED:
            return builtin.refused(tool, arguments)
        if call.id not in self._starting:
            return builtin.interrupted(state, tool, arguments)
        seconds = builtin.timeout(tool)
        left = max(0.001, ((call.deadline or 0) - self.clock()) / 1000)
        try:
            return await asyncio.wait_for(builtin.run(state, tool, arguments), left)
        except TimeoutError:
            message = f"the call did not finish within {seconds:g} s and was stopped"
            return ToolResult(
                f"Error: {message}.", {"error": {"code": "timeout", "message": message}}
            )
        except FerryError as exc:
            return ToolResult(
                f"Error: {exc}", {"error": {"code": "tool_error", "message": str(exc)}}
            )
        finally:
            self._starting.discard(call.id)

    async def _watch_cancel(self, run_id: str, tasks: list[asyncio.Task[ToolResult]]) -> None:
        """While calls run: a client's cancel (seen in the store, from any process) stops
        them, and their tools pass it on (a connected agent's run is cancelled too)."""
        while True:
            await asyncio.sleep(self.poll_interval / 2)
            with contextlib.suppress(Exception):
                if await self.ledger.status(run_id) == RunStatus.CANCELLING:
                    for task in tasks:
                        task.cancel()
                    return

    def _call(
        self,
        state: RunState,
        step: Json,
        tool: Json,
        tool_call: ToolCall,
        now_ms: int,
        timeout_ms: int,
    ) -> Call | None:
        """The call's record; for `azure_function`, with the message for its queue."""
        call = Call(
            id=new_id("fc"),
            run_id=state.id,
            step_id=step["id"],
            call_id=tool_call.id or new_id("call"),
            kind=tool["type"],
            name=tool_call.name,
            state=CallState.PENDING,
            created_at=now_ms,
        )
        builtin = self.builtins.get(tool["type"])
        if builtin is not None and arguments_object(tool_call.arguments) is None:
            return None
        if builtin is not None and builtin.acts:
            if builtin.needs_approval(tool, tool.get("target")):
                call.payload = Act.APPROVAL
            else:
                call.payload = Act.STARTED
                call.deadline = now_ms + int(builtin.timeout(tool) * 1000)
            return call
        if tool["type"] != "azure_function":
            return call
        arguments = arguments_object(tool_call.arguments)
        if arguments is None:
            return None
        source, answer = binding_of(tool, "input"), binding_of(tool, "output")
        call.correlation_id = str(uuid.uuid4())
        call.input_url, call.input_queue = source.endpoint, source.queue
        call.output_url, call.output_queue = answer.endpoint, answer.queue
        trace = None
        if tracing.enabled():
            trace = RunTrace(state.id, state.run).call_traceparent(call.correlation_id)
        call.payload = encode_call(arguments, call.correlation_id, answer.url, trace)
        call.deadline = now_ms + timeout_ms
        return call

    def _local_account(self, url: str) -> LocalEndpoint | None:
        """The endpoint, if `url` names queues in this process's store on the runs' own
        database (the locator decides), where a put can share the commit of the call."""
        return self.locator.local_for(url, database=self.ledger.database)

    def _put_within(self, calls: Sequence[tuple[Call, LocalEndpoint]], conn: Any) -> None:
        for call, endpoint in calls:
            output = self._local_account(call.output_url or "")
            known = (call.output_url or "", call.output_queue or "") in self._ensured
            if output is not None and not known:
                output.ensure_within(conn, call.output_queue or "")
            endpoint.put_within(conn, call.input_queue or "", call.payload or "")

    def _sent_locally(self, calls: list[tuple[Call, LocalEndpoint]]) -> None:
        """After the commit: wake this process's consumers of the input queues."""
        for call, endpoint in calls:
            endpoint.notify(call.input_queue or "")
            self._ensured.add((call.output_url or "", call.output_queue or ""))
        self.collector.calls_sent()


def _refusal(tool_call: ToolCall, known: bool) -> str:
    """Why a call the model made cannot be carried out."""
    if not known:
        return f"the model called '{tool_call.name}', which is not one of the run's tools"
    return (
        f"the model called '{tool_call.name}' with arguments that are not a JSON object: "
        f"{tool_call.arguments[:200]}"
    )


def _open_tool_step(state: RunState) -> Json | None:
    for step in reversed(state.steps):
        if step["kind"] == "tool_calls" and step["status"] == StepStatus.IN_PROGRESS:
            return step
    return None
