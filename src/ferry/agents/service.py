"""What each agents API operation does, independent of HTTP.

Handlers in `ferry.agents.app` parse a request into a checked body and call one method here;
the methods enforce the service's rules (a thread has one active run; tool outputs answer
exactly the calls a run asked for; an id from one project is not found in another) inside one
database transaction each, then wake the run engine when a run has work.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection

from ferry.agents.errors import BadRequest
from ferry.agents.objects import (
    assistant_object,
    message_object,
    run_object,
    thread_object,
)
from ferry.agents.requests import (
    AssistantCreate,
    AssistantUpdate,
    MessageCreate,
    MessageUpdate,
    RunCreate,
    RunUpdate,
    ThreadAndRunCreate,
    ThreadCreate,
    ThreadUpdate,
    ToolOutputs,
)
from ferry.agents.store import TERMINAL, AgentStore, Page, fetch, steps_of, store
from ferry.runs.bus import RunBus
from ferry.store.schema import agent_threads, runs, thread_messages
from ferry.store.signals import RUNS, signals_for

__all__ = ["AgentService", "open_tool_step"]

Json = dict[str, Any]


def open_tool_step(conn: Connection, project: str, thread_id: str, run_id: str) -> Json | None:
    """The run's tool-calls step still waiting for outputs, if any."""
    for body in reversed(steps_of(conn, project, thread_id, run_id)):
        if body["type"] == "tool_calls" and body["status"] == "in_progress":
            return body
    return None


def _metadata_change(
    request: ThreadUpdate | MessageUpdate | RunUpdate,
) -> Callable[[Connection, Json], Json]:
    """The change an update request makes: only `metadata` may be updated."""

    def change(conn: Connection, body: Json) -> Json:
        if request.metadata is not None:
            body["metadata"] = request.metadata
        return body

    return change


def _check_texts(messages: list[MessageCreate]) -> None:
    """Refuse unsupported content before any transaction starts."""
    for message in messages:
        message.text  # noqa: B018 - raises for non-text content


class AgentService:
    def __init__(
        self,
        store: AgentStore,
        wake: Callable[[], None] = lambda: None,
        bus: RunBus | None = None,
    ) -> None:
        self.store = store
        self.wake = wake
        """Called when a run has work for the engine (created, answered, cancelled)."""
        self.bus = bus
        """Where streams hear of runs this process works; without it they poll the store."""
        self.signals = signals_for(store.database)
        """How run engines in other processes sharing the database hear of work."""

    # Agents --------------------------------------------------------------------------------

    async def create_assistant(self, project: str, request: AssistantCreate) -> Json:
        body = assistant_object(request, self.store.now())
        return await self.store.insert("assistant", project, body)

    async def update_assistant(
        self, project: str, assistant_id: str, request: AssistantUpdate
    ) -> Json:
        changes = {key: getattr(request, key) for key in request.model_fields_set}
        for key, empty in (("tools", []), ("metadata", {}), ("tool_resources", {})):
            if key in changes and changes[key] is None:
                changes[key] = empty

        def change(conn: Connection, body: Json) -> Json:
            return {**body, **changes}

        return await self.store.modify("assistant", project, assistant_id, change)

    # Threads and messages -----------------------------------------------------------------

    async def create_thread(self, project: str, request: ThreadCreate) -> Json:
        now = self.store.now()
        _check_texts(request.messages or [])
        thread = thread_object(request.metadata, now)

        def work(conn: Connection) -> Json:
            self._insert_thread(conn, project, thread, request.messages or [], now)
            return thread

        return await self.store.run_in_transaction(work)

    def _insert_thread(
        self, conn: Connection, project: str, thread: Json, messages: list[MessageCreate], now: int
    ) -> None:
        conn.execute(agent_threads.insert().values(project=project, id=thread["id"], body=thread))
        for message in messages:
            self._insert_message(conn, project, thread["id"], message, now)

    @staticmethod
    def _insert_message(
        conn: Connection, project: str, thread_id: str, request: MessageCreate, now: int
    ) -> Json:
        body = message_object(thread_id, request.role, request.text, now, metadata=request.metadata)
        conn.execute(
            thread_messages.insert().values(
                project=project, id=body["id"], thread_id=thread_id, body=body
            )
        )
        return body

    async def update_thread(self, project: str, thread_id: str, request: ThreadUpdate) -> Json:
        return await self.store.modify("thread", project, thread_id, _metadata_change(request))

    async def create_message(self, project: str, thread_id: str, request: MessageCreate) -> Json:
        _check_texts([request])

        def work(conn: Connection) -> Json:
            fetch(conn, "thread", project, thread_id)
            self.store.raise_if_busy(conn, project, thread_id, "add messages to")
            return self._insert_message(conn, project, thread_id, request, self.store.now())

        return await self.store.run_in_transaction(work)

    async def update_message(
        self, project: str, thread_id: str, message_id: str, request: MessageUpdate
    ) -> Json:
        return await self.store.modify(
            "message", project, message_id, _metadata_change(request), thread_id=thread_id
        )

    async def list_messages(
        self, project: str, thread_id: str, run_id: str | None, **paging: Any
    ) -> Page:
        filters = [("thread_id", thread_id)]
        if run_id:
            filters.append(("run_id", run_id))
        return await self.store.page(
            "message", project, filters=filters, parent=("thread", thread_id), **paging
        )

    # Runs ----------------------------------------------------------------------------------

    def _start_run(
        self,
        conn: Connection,
        project: str,
        thread_id: str,
        request: RunCreate | ThreadAndRunCreate,
    ) -> Json:
        now = self.store.now()
        assistant = fetch(conn, "assistant", project, request.assistant_id)
        self.store.raise_if_busy(conn, project, thread_id, "create a run on")
        if isinstance(request, RunCreate):
            for message in request.additional_messages or []:
                self._insert_message(conn, project, thread_id, message, now)
        run = run_object(thread_id, assistant, request, now)
        conn.execute(
            runs.insert().values(
                project=project,
                id=run["id"],
                thread_id=thread_id,
                body=run,
                status="queued",
                wake_at=self.store.clock(),
            )
        )
        self.signals.announce(conn, RUNS, run["id"])
        return run

    async def create_run(self, project: str, thread_id: str, request: RunCreate) -> Json:
        _check_texts(request.additional_messages or [])

        def work(conn: Connection) -> Json:
            fetch(conn, "thread", project, thread_id)
            return self._start_run(conn, project, thread_id, request)

        run = await self.store.run_in_transaction(work)
        self.wake()
        return run

    async def create_thread_and_run(self, project: str, request: ThreadAndRunCreate) -> Json:
        now = self.store.now()
        thread_request = request.thread or ThreadCreate()
        _check_texts(thread_request.messages or [])
        thread = thread_object(thread_request.metadata, now)

        def work(conn: Connection) -> Json:
            fetch(conn, "assistant", project, request.assistant_id)
            self._insert_thread(conn, project, thread, thread_request.messages or [], now)
            return self._start_run(conn, project, thread["id"], request)

        run = await self.store.run_in_transaction(work)
        self.wake()
        return run

    async def update_run(
        self, project: str, thread_id: str, run_id: str, request: RunUpdate
    ) -> Json:
        return await self.store.modify(
            "run", project, run_id, _metadata_change(request), thread_id=thread_id
        )

    async def cancel_run(self, project: str, thread_id: str, run_id: str) -> Json:
        def work(conn: Connection) -> Json:
            run = fetch(conn, "run", project, run_id, thread_id=thread_id)
            if run["status"] in TERMINAL or run["status"] == "cancelling":
                raise BadRequest(f"Cannot cancel run with status '{run['status']}'.")
            run["status"] = "cancelling"
            store(conn, "run", run, status="cancelling", wake_at=self.store.clock())
            self.signals.announce(conn, RUNS, run_id)
            return run

        run = await self.store.run_in_transaction(work)
        self.wake()
        if self.bus is not None:
            self.bus.changed(run_id)
        return run

    async def submit_tool_outputs(
        self, project: str, thread_id: str, run_id: str, request: ToolOutputs
    ) -> Json:
        outputs = {o.tool_call_id: o.output for o in request.tool_outputs}
        if len(outputs) != len(request.tool_outputs):
            raise BadRequest("tool_outputs names the same tool_call_id twice")

        def work(conn: Connection) -> Json:
            run = fetch(conn, "run", project, run_id, thread_id=thread_id)
            if run["status"] != "requires_action" or not run.get("required_action"):
                raise BadRequest(f'Runs in status "{run["status"]}" do not accept tool outputs.')
            calls = run["required_action"]["submit_tool_outputs"]["tool_calls"]
            expected = {call["id"] for call in calls}
            if set(outputs) != expected:
                raise BadRequest(
                    f"Expected tool outputs for call_ids {sorted(expected)}, got {sorted(outputs)}",
                    param="tool_outputs",
                )
            step = open_tool_step(conn, project, thread_id, run_id)
            if step is not None:
                for call in step["step_details"]["tool_calls"]:
                    if call["id"] in outputs and call["type"] == "function":
                        call["function"]["output"] = outputs[call["id"]]
                store(conn, "step", step)
            run["status"] = "queued"
            run["required_action"] = None
            store(conn, "run", run, status="queued", wake_at=self.store.clock())
            self.signals.announce(conn, RUNS, run_id)
            return run

        run = await self.store.run_in_transaction(work)
        self.wake()
        return run
