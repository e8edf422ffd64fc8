"""What each classic agents API operation does, independent of HTTP.

Handlers in `ferry.agents.classic.routes` parse a request into a checked body and call one
method here; the methods map the classic objects onto the core (an assistant is an agent with
one version changed in place, a thread a conversation, a message an item, a run a run) and
enforce the service's rules (a thread has one active run; tool outputs answer exactly the
calls a run asked for; an id from one project is not found in another) inside one database
transaction each, then wake the run engine when a run has work.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, select

from ferry import tracing
from ferry.agents.classic.requests import (
    AssistantCreate,
    AssistantUpdate,
    MessageCreate,
    RunCreate,
    ThreadAndRunCreate,
    ThreadCreate,
)
from ferry.agents.classic.views import (
    assistant_view,
    message_view,
    run_view,
    step_view,
    thread_view,
)
from ferry.agents.errors import BadRequest
from ferry.agents.store import AgentStore, Page, busy, conversation_busy, missing
from ferry.agents.tools import classic_tools, with_mcp_resources
from ferry.ids import new_id
from ferry.knowledge.vectorstores import VectorStores
from ferry.runs.bus import RunBus
from ferry.runs.calls import Answer, Call, calls_of
from ferry.runs.items import item_from_row
from ferry.runs.records import message_item, run_record
from ferry.runs.status import TERMINAL, CallState, RunStatus
from ferry.store.schema import agent_versions, agents, conversations, items, run_steps, runs
from ferry.types import Json

__all__ = ["ClassicService", "TOOL_TIMEOUT_KEY"]

API = "classic"
TOOL_TIMEOUT_KEY = "ferry_tool_timeout"
"""Agent metadata key: seconds an `azure_function` call may take before the run fails."""
DEFAULT_RUN_LIFETIME = 600
"""Seconds a run may wait for tool outputs before it expires (the service's 10 minutes)."""


def _definition(request: AssistantCreate | AssistantUpdate, base: Json) -> Json:
    changes = {key: getattr(request, key) for key in request.model_fields_set}
    definition = dict(base)
    for key, target in (
        ("model", "model"),
        ("instructions", "instructions"),
        ("tools", "tools"),
        ("tool_resources", "tool_resources"),
        ("temperature", "temperature"),
        ("top_p", "top_p"),
        ("response_format", "format"),
    ):
        if key in changes:
            definition[target] = changes[key]
    for key, empty in (("tools", []), ("tool_resources", {})):
        if definition.get(key) is None:
            definition[key] = empty
    return definition


def _merged_resources(definition: Json, thread: Json) -> Json:
    """The vector stores a run searches and the files its code session holds: the
    thread's, then the assistant's."""
    merged: Json = {}
    for kind, key in (("file_search", "vector_store_ids"), ("code_interpreter", "file_ids")):
        ids: list[str] = []
        for owner in (thread, definition):
            ids += ((owner.get("tool_resources") or {}).get(kind) or {}).get(key) or []
        ids = list(dict.fromkeys(ids))
        if ids:
            merged[kind] = {key: ids}
    return merged


def _code_attachments(
    conn: Connection, project: str, thread_id: str, messages: Sequence[Json] | None = None
) -> bool:
    """Whether a message of the thread has a file attached for code_interpreter (`messages`:
    all the thread has, when the caller knows them, as it does for a thread it just made)."""
    bodies = (
        messages
        if messages is not None
        else conn.execute(
            select(items.c.body).where(
                items.c.project == project,
                items.c.conversation_id == thread_id,
                items.c.type == "message",
            )
        ).scalars()
    )
    return any(
        tool.get("type") == "code_interpreter"
        for body in bodies
        for attachment in body.get("attachments") or []
        for tool in attachment.get("tools") or []
    )


def _tool_timeout(metadata: dict[str, str]) -> int | None:
    raw = metadata.get(TOOL_TIMEOUT_KEY)
    try:
        return int(float(raw) * 1000) if raw else None
    except ValueError:
        return None


@dataclass(frozen=True)
class ThreadAndRun:
    """What create-thread-and-run made, as the wire shows them."""

    thread: Json
    run: Json


class ClassicService:
    def __init__(
        self,
        store: AgentStore,
        vector_stores: VectorStores | None = None,
        wake: Callable[[], None] = lambda: None,
        bus: RunBus | None = None,
    ) -> None:
        self.store = store
        self.vector_stores = vector_stores or VectorStores(store.database, store.clock)
        self.wake = wake
        """Called when a run has work for the engine (created, answered, cancelled)."""
        self.bus = bus
        """Where streams hear of runs this process works; without it they poll the store."""

    # Agents --------------------------------------------------------------------------------

    @staticmethod
    def _assistant(conn: Connection, project: str, assistant_id: str) -> tuple[Row[Any], Json]:
        row = AgentStore.agent_row(conn, project, assistant_id, API)
        version = AgentStore.version_row(conn, project, assistant_id, 1) if row else None
        if row is None or version is None:
            raise missing("assistant", assistant_id)
        return row, dict(version.body)

    async def create_assistant(self, project: str, request: AssistantCreate) -> Json:
        now = self.store.now()
        assistant_id = new_id("asst")
        definition = _definition(request, {"kind": "prompt"})
        version = {
            "created_at": now,
            "description": request.description,
            "metadata": request.metadata or {},
            "definition": definition,
        }

        def work(conn: Connection) -> Json:
            self._check_stores(conn, project, definition)
            AgentStore.insert_agent(conn, project, assistant_id, API, request.name, {})
            AgentStore.insert_version(conn, project, assistant_id, 1, version)
            return assistant_view(assistant_id, request.name, version)

        return await self.store.write(work)

    async def get_assistant(self, project: str, assistant_id: str) -> Json:
        def work(conn: Connection) -> Json:
            row, version = self._assistant(conn, project, assistant_id)
            return assistant_view(row.id, row.name, version)

        return await self.store.read(work)

    async def update_assistant(
        self, project: str, assistant_id: str, request: AssistantUpdate
    ) -> Json:
        def work(conn: Connection) -> Json:
            row, version = self._assistant(conn, project, assistant_id)
            fields = request.model_fields_set
            name = request.name if "name" in fields else row.name
            if "description" in fields:
                version["description"] = request.description
            if "metadata" in fields:
                version["metadata"] = request.metadata or {}
            version["definition"] = _definition(request, version["definition"])
            self._check_stores(conn, project, version["definition"])
            AgentStore.replace_version(conn, project, assistant_id, 1, version)
            if name != row.name:
                AgentStore.update_agent(conn, project, assistant_id, name=name)
            return assistant_view(assistant_id, name, version)

        return await self.store.write(work)

    async def delete_assistant(self, project: str, assistant_id: str) -> None:
        def work(conn: Connection) -> None:
            self._assistant(conn, project, assistant_id)
            AgentStore.delete_agent(conn, project, assistant_id)

        await self.store.write(work)

    async def list_assistants(self, project: str, **paging: Any) -> Page:
        def work(conn: Connection) -> Page:
            page = AgentStore.page(
                conn,
                agents,
                where=[agents.c.project == project, agents.c.api == API],
                shape=lambda row: {"id": row.id, "name": row.name},
                **paging,
            )
            ids = [a["id"] for a in page.data]
            versions = {
                row.agent_id: dict(row.body)
                for row in conn.execute(
                    select(agent_versions).where(
                        agent_versions.c.project == project,
                        agent_versions.c.agent_id.in_(ids),
                        agent_versions.c.version == 1,
                    )
                )
            }
            data = [assistant_view(a["id"], a["name"], versions[a["id"]]) for a in page.data]
            return Page(data, page.has_more)

        return await self.store.read(work)

    # Threads and messages -----------------------------------------------------------------

    @staticmethod
    def _thread(conn: Connection, project: str, thread_id: str, *, lock: bool = False) -> Json:
        row = AgentStore.conversation_row(conn, project, thread_id, API, lock=lock)
        if row is None:
            raise missing("thread", thread_id)
        return dict(row.body)

    @staticmethod
    def _message_items(messages: list[MessageCreate], now: int) -> list[Json]:
        return [
            message_item(m.role, m.parts, now, attachments=m.attachments, metadata=m.metadata)
            for m in messages
        ]

    def _attach(
        self, conn: Connection, project: str, thread_id: str, body: Json, file_ids: list[str]
    ) -> bool:
        """Files attached for file_search go into the thread's own vector store (made with
        the first such attachment), which its runs search beside the assistant's. True if
        the thread's body changed."""
        if not file_ids:
            return False
        resources = body.setdefault("tool_resources", {})
        search = resources.setdefault("file_search", {"vector_store_ids": []})
        own = body.get("attachment_store")
        if own is None or own not in search["vector_store_ids"]:
            own = self.vector_stores.create_within(
                conn, project, name=f"attachments of {thread_id}", file_ids=file_ids
            )
            body["attachment_store"] = own
            search["vector_store_ids"] = [*search["vector_store_ids"], own]
        else:
            self.vector_stores.add_within(conn, project, own, file_ids)
        return True

    async def create_thread(self, project: str, request: ThreadCreate) -> Json:
        now = self.store.now()
        thread_id = new_id("thread")
        body = self._thread_body(now, request)
        new = self._message_items(request.messages or [], now)
        attached = [f for m in request.messages or [] for f in m.search_files]

        def work(conn: Connection) -> Json:
            self._check_stores(conn, project, body)
            self._attach(conn, project, thread_id, body, attached)
            AgentStore.insert_conversation(conn, project, thread_id, API, body)
            AgentStore.add_items(conn, project, new, conversation_id=thread_id)
            return thread_view(thread_id, body)

        thread = await self.store.write(work)
        if attached:
            self.vector_stores.wake()
        return thread

    @staticmethod
    def _thread_body(now: int, request: ThreadCreate, resources: Json | None = None) -> Json:
        return {
            "created_at": now,
            "metadata": request.metadata or {},
            "tool_resources": request.tool_resources or resources or {},
        }

    @staticmethod
    def _check_stores(conn: Connection, project: str, definition: Json) -> None:
        """The vector stores named in `tool_resources` exist in the project."""
        resources = definition.get("tool_resources") or {}
        ids = (resources.get("file_search") or {}).get("vector_store_ids") or []
        VectorStores.check_within(conn, project, ids)

    async def list_threads(self, project: str, **paging: Any) -> Page:
        return await self.store.read(
            lambda conn: AgentStore.page(
                conn,
                conversations,
                where=[conversations.c.project == project, conversations.c.api == API],
                shape=lambda row: thread_view(row.id, dict(row.body)),
                **paging,
            )
        )

    async def get_thread(self, project: str, thread_id: str) -> Json:
        return await self.store.read(
            lambda conn: thread_view(thread_id, self._thread(conn, project, thread_id))
        )

    async def update_thread(
        self, project: str, thread_id: str, metadata: Json | None, resources: Json | None = None
    ) -> Json:
        def work(conn: Connection) -> Json:
            body = self._thread(conn, project, thread_id, lock=True)
            if metadata is not None:
                body["metadata"] = metadata
            if resources is not None:
                self._check_stores(conn, project, {"tool_resources": resources})
                body["tool_resources"] = resources
            if metadata is not None or resources is not None:
                AgentStore.replace_conversation(conn, thread_id, body)
            return thread_view(thread_id, body)

        return await self.store.write(work)

    async def delete_thread(self, project: str, thread_id: str) -> None:
        """The thread with its messages and runs; queue calls still waiting are cancelled,
        so their late answers are recognised and dropped."""

        def work(conn: Connection) -> None:
            self._thread(conn, project, thread_id)
            AgentStore.delete_conversation(conn, project, thread_id)

        await self.store.write(work)

    async def create_message(self, project: str, thread_id: str, request: MessageCreate) -> Json:
        item = self._message_items([request], self.store.now())[0]
        attached = request.search_files

        def work(conn: Connection) -> Json:
            body = self._thread(conn, project, thread_id, lock=True)
            active = conversation_busy(conn, project, thread_id)
            if active is not None:
                raise busy(active, "add messages to", thread_id)
            if self._attach(conn, project, thread_id, body, attached):
                AgentStore.replace_conversation(conn, thread_id, body)
            AgentStore.add_items(conn, project, [item], conversation_id=thread_id)
            return message_view({**item, "conversation_id": thread_id, "run_id": None})

        message = await self.store.write(work)
        if attached:
            self.vector_stores.wake()
        return message

    @staticmethod
    def _message(conn: Connection, project: str, thread_id: str, message_id: str) -> Json:
        item = AgentStore.item(
            conn,
            project,
            message_id,
            items.c.conversation_id == thread_id,
            items.c.type == "message",
        )
        if item is None:
            raise missing("message", message_id)
        return item

    async def get_message(self, project: str, thread_id: str, message_id: str) -> Json:
        return await self.store.read(
            lambda conn: message_view(self._message(conn, project, thread_id, message_id))
        )

    async def update_message(
        self, project: str, thread_id: str, message_id: str, metadata: Json | None
    ) -> Json:
        def work(conn: Connection) -> Json:
            item = self._message(conn, project, thread_id, message_id)
            if metadata is not None:
                item["metadata"] = metadata
                AgentStore.replace_item(conn, item)
            return message_view(item)

        return await self.store.write(work)

    async def list_messages(
        self, project: str, thread_id: str, run_id: str | None, **paging: Any
    ) -> Page:
        def work(conn: Connection) -> Page:
            self._thread(conn, project, thread_id)
            where = [
                items.c.project == project,
                items.c.conversation_id == thread_id,
                items.c.type == "message",
            ]
            if run_id:
                where.append(items.c.run_id == run_id)
            return AgentStore.page(
                conn, items, where=where, shape=lambda r: message_view(item_from_row(r)), **paging
            )

        return await self.store.read(work)

    # Runs ----------------------------------------------------------------------------------

    def _start_run(
        self,
        conn: Connection,
        project: str,
        thread_id: str,
        thread: Json,
        request: RunCreate | ThreadAndRunCreate,
        *,
        run_id: str | None = None,
        assistant: tuple[Row[Any], Json] | None = None,
        new_thread: Sequence[Json] | None = None,
        traceparent: str | None = None,
    ) -> Json:
        """The run, started in the caller's transaction on `thread` (its body as stored).
        `new_thread`: the messages of a thread this transaction made (so no run can be busy
        on it yet, and nothing else need be read of it)."""
        now_ms = self.store.clock()
        now = now_ms // 1000
        row, version = assistant or self._assistant(conn, project, request.assistant_id)
        active = None if new_thread is not None else conversation_busy(conn, project, thread_id)
        if active is not None:
            raise busy(active, "create a run on", thread_id)
        if isinstance(request, RunCreate):
            extra = self._message_items(request.additional_messages or [], now)
            attached = [f for m in request.additional_messages or [] for f in m.search_files]
            if self._attach(conn, project, thread_id, thread, attached):
                AgentStore.replace_conversation(conn, thread_id, thread)
            AgentStore.add_items(conn, project, extra, conversation_id=thread_id)
        definition = version["definition"]
        tools = request.tools if request.tools is not None else definition.get("tools") or []
        resources = _merged_resources(definition, thread)
        own_store = thread.get("attachment_store")
        searched = (resources.get("file_search") or {}).get("vector_store_ids") or []
        if own_store in searched and not any(tool["type"] == "file_search" for tool in tools):
            # Files attached for file_search bring the tool, as on the hosted service.
            tools = [*tools, classic_tools([{"type": "file_search"}])[0]]
        if not any(tool["type"] == "code_interpreter" for tool in tools) and _code_attachments(
            conn, project, thread_id, new_thread
        ):
            tools = [*tools, classic_tools([{"type": "code_interpreter"}])[0]]
        instructions = request.instructions
        if instructions is None:
            instructions = definition.get("instructions") or ""
        additional = getattr(request, "additional_instructions", None)
        if additional:
            instructions = f"{instructions}\n\n{additional}" if instructions else additional
        metadata = version.get("metadata") or {}
        tools = with_mcp_resources(
            tools, getattr(request, "tool_resources", None) or {}, definition.get("tool_resources")
        )

        def pick(mine: Any, theirs: Any) -> Any:
            return theirs if mine is None else mine

        body = run_record(
            now,
            expires_at=now + DEFAULT_RUN_LIFETIME,
            agent={"id": row.id, "name": row.name, "version": "1"},
            model=request.model or definition["model"],
            instructions=instructions,
            tools=tools,
            tool_resources=resources,
            tool_choice=request.tool_choice or "auto",
            parallel_tool_calls=request.parallel_tool_calls,
            temperature=pick(request.temperature, definition.get("temperature")),
            top_p=pick(request.top_p, definition.get("top_p")),
            format=pick(request.response_format, definition.get("format")),
            max_prompt_tokens=request.max_prompt_tokens,
            max_output_tokens=request.max_completion_tokens,
            truncation=(
                request.truncation_strategy.model_dump() if request.truncation_strategy else None
            ),
            metadata=request.metadata or {},
            client_calls="wait",
            horizon=AgentStore.last_item_seq(conn, project, thread_id),
            tool_timeout=_tool_timeout(metadata),
        )
        if traceparent is not None:
            body[tracing.TRACEPARENT] = traceparent  # the client's trace goes on in the run's
        run_id = run_id or new_id("run")
        self.store.ledger.start(
            conn,
            project,
            run_id,
            body,
            api=API,
            conversation_id=thread_id,
            previous_run_id=None,
            now=now_ms,
            news=None,
        )
        return run_view(run_id, thread_id, RunStatus.QUEUED, body, [])

    async def create_run(
        self, project: str, thread_id: str, request: RunCreate, *, run_id: str | None = None
    ) -> Json:
        for message in request.additional_messages or []:
            message.parts  # noqa: B018 - refuses unsupported content before the transaction

        traceparent = tracing.incoming()

        def work(conn: Connection) -> Json:
            thread = self._thread(conn, project, thread_id, lock=True)
            return self._start_run(
                conn, project, thread_id, thread, request, run_id=run_id, traceparent=traceparent
            )

        run = await self.store.write(work)
        self.wake()
        return run

    async def create_thread_and_run(
        self, project: str, request: ThreadAndRunCreate, *, run_id: str | None = None
    ) -> ThreadAndRun:
        now = self.store.now()
        thread_request = request.thread or ThreadCreate()
        thread_id = new_id("thread")
        body = self._thread_body(now, thread_request, request.tool_resources)
        new = self._message_items(thread_request.messages or [], now)
        attached = [f for m in thread_request.messages or [] for f in m.search_files]
        traceparent = tracing.incoming()

        def work(conn: Connection) -> ThreadAndRun:
            assistant = self._assistant(conn, project, request.assistant_id)
            self._check_stores(conn, project, body)
            self._attach(conn, project, thread_id, body, attached)
            AgentStore.insert_conversation(conn, project, thread_id, API, body)
            AgentStore.add_items(conn, project, new, conversation_id=thread_id)
            run = self._start_run(
                conn,
                project,
                thread_id,
                body,
                request,
                run_id=run_id,
                assistant=assistant,
                new_thread=new,
                traceparent=traceparent,
            )
            return ThreadAndRun(thread_view(thread_id, body), run)

        created = await self.store.write(work)
        self.wake()
        return created

    @staticmethod
    def run_row(conn: Connection, project: str, thread_id: str, run_id: str) -> Row[Any]:
        row = conn.execute(
            select(runs).where(
                runs.c.project == project,
                runs.c.id == run_id,
                runs.c.conversation_id == thread_id,
                runs.c.api == API,
            )
        ).one_or_none()
        if row is None:
            raise missing("run", run_id)
        return row

    @staticmethod
    def render_run(conn: Connection, row: Row[Any]) -> Json:
        waiting: list[Json] = []
        if row.status == RunStatus.REQUIRES_ACTION:
            waiting = _waiting_calls(conn, row.id)
        return run_view(row.id, row.conversation_id, row.status, dict(row.body), waiting)

    async def get_run(self, project: str, thread_id: str, run_id: str) -> Json:
        return await self.store.read(
            lambda conn: self.render_run(conn, self.run_row(conn, project, thread_id, run_id))
        )

    async def list_runs(self, project: str, thread_id: str, **paging: Any) -> Page:
        def work(conn: Connection) -> Page:
            self._thread(conn, project, thread_id)
            return AgentStore.page(
                conn,
                runs,
                where=[runs.c.project == project, runs.c.conversation_id == thread_id],
                shape=lambda row: self.render_run(conn, row),
                **paging,
            )

        return await self.store.read(work)

    async def update_run(
        self, project: str, thread_id: str, run_id: str, metadata: Json | None
    ) -> Json:
        def work(conn: Connection) -> Json:
            self.run_row(conn, project, thread_id, run_id)
            if metadata is not None:
                self.store.ledger.set_metadata(conn, run_id, metadata)
            return self.render_run(conn, self.run_row(conn, project, thread_id, run_id))

        return await self.store.write(work)

    async def cancel_run(self, project: str, thread_id: str, run_id: str) -> Json:
        def work(conn: Connection) -> Json:
            row = self.run_row(conn, project, thread_id, run_id)
            if row.status in TERMINAL or row.status == RunStatus.CANCELLING:
                raise BadRequest(f"Cannot cancel run with status '{row.status}'.")
            self.store.ledger.cancel(conn, run_id, self.store.clock())
            return self.render_run(conn, self.run_row(conn, project, thread_id, run_id))

        run = await self.store.write(work)
        self.wake()
        if self.bus is not None:
            self.bus.changed(run_id)
        return run

    async def submit_tool_outputs(
        self,
        project: str,
        thread_id: str,
        run_id: str,
        outputs: dict[str, str],
        approvals: dict[str, tuple[bool, dict[str, str] | None]] | None = None,
    ) -> Json:
        """Outputs for the run's function calls, or approvals for its MCP calls: each set
        given must answer every call waiting for that kind of answer."""
        approvals = approvals or {}

        def work(conn: Connection) -> Json:
            row = self.run_row(conn, project, thread_id, run_id)
            if row.status != RunStatus.REQUIRES_ACTION:
                raise BadRequest(f'Runs in status "{row.status}" do not accept tool outputs.')
            pending = [c for c in calls_of(conn, [run_id]) if c.state == CallState.PENDING]
            waiting = {c.call_id: c for c in pending if c.kind == "function"}
            asking = {c.call_id: c for c in pending if c.for_client and c.kind != "function"}
            if approvals and set(approvals) != set(asking):
                raise BadRequest(
                    f"Expected tool approvals for call_ids {sorted(asking)}, "
                    f"got {sorted(approvals)}",
                    param="tool_approvals",
                )
            if (outputs or not approvals) and set(outputs) != set(waiting):
                raise BadRequest(
                    f"Expected tool outputs for call_ids {sorted(waiting)}, got {sorted(outputs)}",
                    param="tool_outputs",
                )
            now = self.store.clock()
            if approvals:
                decisions = [
                    (asking[call_id], approve, headers)
                    for call_id, (approve, headers) in approvals.items()
                ]
                self.store.ledger.approve(conn, decisions, now, requeue=run_id)
            if outputs:
                answers = [
                    Answer(waiting[call_id], output, run_id, waiting[call_id].step_id, thread_id)
                    for call_id, output in outputs.items()
                ]
                self.store.ledger.answer(conn, project, answers, now, requeue=run_id)
            return self.render_run(conn, self.run_row(conn, project, thread_id, run_id))

        run = await self.store.write(work)
        self.wake()
        return run

    # Steps ---------------------------------------------------------------------------------

    async def list_steps(
        self,
        project: str,
        thread_id: str,
        run_id: str,
        include: Sequence[str] = (),
        **paging: Any,
    ) -> Page:
        def work(conn: Connection) -> Page:
            row = self.run_row(conn, project, thread_id, run_id)
            render = StepRenderer(conn, row, _with_content(include))
            return AgentStore.page(
                conn,
                run_steps,
                where=[run_steps.c.project == project, run_steps.c.run_id == run_id],
                shape=lambda step: render(dict(step.body)),
                **paging,
            )

        return await self.store.read(work)

    async def get_step(
        self, project: str, thread_id: str, run_id: str, step_id: str, include: Sequence[str] = ()
    ) -> Json:
        def work(conn: Connection) -> Json:
            row = self.run_row(conn, project, thread_id, run_id)
            body = conn.execute(
                select(run_steps.c.body).where(
                    run_steps.c.id == step_id, run_steps.c.run_id == run_id
                )
            ).scalar_one_or_none()
            if body is None:
                raise missing("run step", step_id)
            return StepRenderer(conn, row, _with_content(include))(dict(body))

        return await self.store.read(work)


class StepRenderer:
    """Renders a run's steps with what they need: the run's items and calls, read once."""

    def __init__(self, conn: Connection, run: Row[Any], content: bool = False) -> None:
        self.run = run
        self.content = content
        rows = conn.execute(select(items).where(items.c.run_id == run.id).order_by(items.c.seq))
        self.items = [item_from_row(r) for r in rows]
        self.calls = {call.id: call for call in calls_of(conn, [run.id])}
        self.outputs = {
            i["call_id"]: i["output"] for i in self.items if i["type"] == "function_call_output"
        }
        self.assistant = (dict(run.body).get("agent") or {}).get("id")

    def __call__(self, step: Json) -> Json:
        own = [i for i in self.items if i.get("step_id") == step["id"]]
        return step_view(
            step,
            self.run.id,
            self.run.conversation_id,
            self.assistant,
            own,
            self.calls,
            self.outputs,
            content=self.content,
        )


SEARCH_CONTENT = "step_details.tool_calls[*].file_search.results[*].content"
"""The one `include[]` value of run steps: file_search results with their text."""


def _with_content(include: Sequence[str]) -> bool:
    unknown = [value for value in include if value != SEARCH_CONTENT]
    if unknown:
        raise BadRequest(
            f"'include[]' value '{unknown[0][:100]}' is not supported; the only one is "
            f"'{SEARCH_CONTENT}'",
            param="include[]",
        )
    return bool(include)


def _waiting_calls(conn: Connection, run_id: str) -> list[Json]:
    """The client's function calls a run waits on, in the order they were made."""
    pending: list[Call] = [
        c for c in calls_of(conn, [run_id]) if c.state == CallState.PENDING and c.for_client
    ]
    if not pending:
        return []
    rows = conn.execute(select(items).where(items.c.id.in_([c.id for c in pending])))
    found = {r.id: dict(r.body) for r in rows}
    return [found[c.id] for c in pending if c.id in found]


_ = conversations
