"""What the dashboard shows, read straight from the store's tables in one transaction each.

The dashboard reads across every project and queue account (it is the operator's view, not
a client's), so it queries the tables rather than the per-project API services; it never
writes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, and_, case, func, select

from ferry.clock import Clock, system_clock
from ferry.dashboard.spans import Call, Invocation, Timeline, timeline
from ferry.queues.correlation import stored_correlation_of
from ferry.store import Database
from ferry.store.schema import (
    agent_versions,
    agents,
    conversations,
    files,
    function_invocations,
    items,
    queue_messages,
    queues,
    run_events,
    run_steps,
    runs,
    tool_calls,
    vector_store_files,
    vector_stores,
)
from ferry.types import Json

__all__ = [
    "AgentRow",
    "CallRow",
    "ConversationDetail",
    "ConversationRow",
    "FileRow",
    "FunctionRow",
    "Functions",
    "ItemRow",
    "Knowledge",
    "StoreRow",
    "MessageRow",
    "Overview",
    "QueueDetail",
    "QueueRow",
    "Reader",
    "RunDetail",
    "RunRow",
    "StepRow",
    "valid_run_id",
]

LIMIT = 50
"""Rows per list: the overview is a glance at what is recent, not a pager."""
POISON = "-poison"

PEEK = 32
"""Messages shown of a queue (and of its poison queue): the oldest, as a consumer meets them."""
SHOWN_TEXT = 4096
"""Characters of a message's text shown; the rest is cut with a mark."""

TEXT = 2000
"""Characters of an item's text shown in a conversation."""

_RUN_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_ACCOUNT = re.compile(r"[A-Za-z0-9]{1,64}")
_QUEUE = re.compile(r"[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}")


def valid_run_id(value: str) -> bool:
    """Whether `value` could be a run's id: anything else is a 404 before any query."""
    return valid_id(value)


def valid_id(value: str) -> bool:
    """Whether `value` could be an id Ferry made (a run's, a thread's, a conversation's)."""
    return _RUN_ID.fullmatch(value) is not None


def valid_queue(account: str, name: str) -> bool:
    """Whether `account` and `name` could name a queue: anything else is a 404 before any
    query."""
    return _ACCOUNT.fullmatch(account) is not None and _QUEUE.fullmatch(name) is not None


@dataclass(frozen=True)
class AgentRow:
    project: str
    id: str
    api: str
    name: str | None
    latest: int
    versions: list[tuple[int, str]]
    """(version, model), newest first."""


@dataclass(frozen=True)
class RunRow:
    project: str
    id: str
    api: str
    status: str
    conversation_id: str | None
    agent: str | None
    model: str | None
    created_at: int | None
    """Unix seconds, as the run's body carries them."""


@dataclass(frozen=True)
class QueueRow:
    account: str
    name: str
    visible: int
    in_flight: int
    poison: int | None
    """Messages on `<name>-poison`, or None when there is no such queue."""


@dataclass(frozen=True)
class MessageRow:
    id: str
    inserted_at: int
    visible_at: int
    """Milliseconds: later than now while a consumer holds it."""
    dequeue_count: int
    text: str
    """At most `SHOWN_TEXT` characters of it."""
    held: bool
    """Whether a consumer holds it (invisible until `visible_at`)."""


@dataclass(frozen=True)
class QueueDetail:
    account: str
    name: str
    messages: list[MessageRow]
    poison: list[MessageRow] | None
    """The messages of `<name>-poison`, or None when there is no such queue."""


@dataclass(frozen=True)
class Overview:
    agents: list[AgentRow]
    runs: list[RunRow]
    queues: list[QueueRow]


@dataclass(frozen=True)
class CallRow:
    id: str
    call_id: str
    name: str
    kind: str
    state: str | None
    correlation_id: str | None
    input_queue: str | None
    output_queue: str | None
    created_at: int | None
    deadline: int | None
    answered_at: int | None
    """Milliseconds, as the call's record carries them."""
    arguments: str | None
    output: str | None
    invocations: list[Invocation] = field(default_factory=list)
    """The function invocations its message triggered, each delivery one."""
    poisoned: tuple[str, str, str] | None = None
    """(account, poison queue, message id) when its message was poisoned."""


@dataclass(frozen=True)
class StepRow:
    id: str
    kind: str
    status: str
    created_at: int | None
    completed_at: int | None
    failed_at: int | None
    last_error: Any
    calls: list[CallRow] = field(default_factory=list)


@dataclass(frozen=True)
class RunDetail:
    run: RunRow
    last_error: Any
    steps: list[StepRow]
    events: list[tuple[int, str, Json]]
    """(at in milliseconds, kind, detail), in order."""
    timeline: Timeline


@dataclass(frozen=True)
class ConversationRow:
    project: str
    id: str
    api: str
    created_at: int | None
    items: int


@dataclass(frozen=True)
class ItemRow:
    id: str
    type: str
    role: str | None
    text: str
    """What it says: a message's text, a call's name and arguments, an output (cut at
    `TEXT` characters)."""
    run_id: str | None
    created_at: int | None


@dataclass(frozen=True)
class ConversationDetail:
    conversation: ConversationRow
    items: list[ItemRow]
    runs: list[RunRow]


@dataclass(frozen=True)
class FunctionRow:
    function: str
    trigger: str
    invocations: int
    failures: int
    mean_ms: int
    last_at: int


@dataclass(frozen=True)
class Functions:
    functions: list[FunctionRow]
    recent: list[tuple[Invocation, str | None]]
    """The latest invocations, each with the run whose tool call it answered, if any."""


@dataclass(frozen=True)
class FileRow:
    project: str
    id: str
    filename: str
    purpose: str
    bytes: int
    created_at: int
    """Milliseconds."""


@dataclass(frozen=True)
class StoreRow:
    project: str
    id: str
    name: str | None
    files: list[tuple[str, str, str | None]]
    """(file id, ingestion status, its error's message), oldest first."""

    def count(self, status: str) -> int:
        return sum(1 for _, state, _ in self.files if state == status)


@dataclass(frozen=True)
class Knowledge:
    files: list[FileRow]
    stores: list[StoreRow]


def _cut(text: str) -> str:
    return text if len(text) <= TEXT else text[:TEXT] + " …"


def _item_text(body: Json) -> str:
    kind = body.get("type")
    if kind == "function_call":
        return _cut(f"{body.get('name', '')}({body.get('arguments', '')})")
    if kind == "function_call_output":
        return _cut(str(body.get("output", "")))
    parts = body.get("content")
    if isinstance(parts, str):
        return _cut(parts)
    texts = []
    for part in parts if isinstance(parts, list) else []:
        text = part.get("text") if isinstance(part, dict) else None
        if isinstance(text, dict):
            text = text.get("value")
        if isinstance(text, str):
            texts.append(text)
        elif isinstance(part, dict) and part.get("type"):
            texts.append(f"[{part['type']}]")
    return _cut("\n".join(texts))


def _model(body: Json) -> str | None:
    model = body.get("model") or (body.get("definition") or {}).get("model")
    return str(model) if model else None


def _item_row(row: Any) -> ItemRow:
    body = dict(row.body)
    return ItemRow(
        row.id, row.type, body.get("role"), _item_text(body), row.run_id, body.get("created_at")
    )


def _conversation_row(row: Any, count: int) -> ConversationRow:
    created = dict(row.body).get("created_at")
    return ConversationRow(
        row.project, row.id, row.api, created if isinstance(created, int) else None, count
    )


def _run_row(row: Any) -> RunRow:
    body = dict(row.body)
    agent = body.get("agent")
    agent_id = agent.get("id") or agent.get("name") if isinstance(agent, dict) else agent
    created = body.get("created_at")
    return RunRow(
        project=row.project,
        id=row.id,
        api=row.api,
        status=row.status,
        conversation_id=row.conversation_id,
        agent=str(agent_id) if agent_id else None,
        model=_model(body),
        created_at=created if isinstance(created, int) else None,
    )


class Reader:
    """The dashboard's queries, each one read transaction on the shared database."""

    def __init__(self, database: Database, clock: Clock = system_clock) -> None:
        self.database = database
        self.clock = clock

    async def overview(self) -> Overview:
        return await self.database.read(self._overview)

    async def run(self, run_id: str) -> RunDetail | None:
        """The run (classic) or response (v2) with its steps, or None if there is none."""
        if not valid_run_id(run_id):
            return None
        return await self.database.read(lambda conn: self._run(conn, run_id))

    async def queue(self, account: str, name: str) -> QueueDetail | None:
        """The queue's oldest messages and its poison queue's, or None if there is none."""
        if not valid_queue(account, name):
            return None
        return await self.database.read(lambda conn: self._queue(conn, account, name))

    async def conversations(self) -> list[ConversationRow]:
        return await self.database.read(self._conversations)

    async def conversation(self, conversation_id: str) -> ConversationDetail | None:
        """A thread (classic) or conversation (v2) with its items and runs, or None."""
        if not valid_id(conversation_id):
            return None
        return await self.database.read(lambda conn: self._conversation(conn, conversation_id))

    async def functions(self) -> Functions:
        return await self.database.read(self._functions)

    async def knowledge(self) -> Knowledge:
        return await self.database.read(self._knowledge)

    @staticmethod
    def _conversations(conn: Connection) -> list[ConversationRow]:
        c = conversations.c
        count = (
            select(func.count())
            .select_from(items)
            .where(items.c.conversation_id == c.id)
            .scalar_subquery()
        )
        found = conn.execute(
            select(c.project, c.id, c.api, c.body, count).order_by(c.seq.desc()).limit(LIMIT)
        )
        return [_conversation_row(row, int(row[4])) for row in found]

    def _conversation(self, conn: Connection, conversation_id: str) -> ConversationDetail | None:
        c = conversations.c
        row = conn.execute(
            select(c.project, c.id, c.api, c.body).where(c.id == conversation_id)
        ).one_or_none()
        if row is None:
            return None
        shown = [
            _item_row(i)
            for i in conn.execute(
                select(items)
                .where(items.c.conversation_id == conversation_id)
                .order_by(items.c.seq)
                .limit(LIMIT * 4)
            )
        ]
        total = conn.execute(
            select(func.count())
            .select_from(items)
            .where(items.c.conversation_id == conversation_id)
        ).scalar_one()
        ran = conn.execute(
            select(runs)
            .where(runs.c.conversation_id == conversation_id)
            .order_by(runs.c.seq.desc())
            .limit(LIMIT)
        )
        return ConversationDetail(
            _conversation_row(row, int(total)), shown, [_run_row(r) for r in ran]
        )

    @staticmethod
    def _functions(conn: Connection) -> Functions:
        f = function_invocations.c
        failed = func.sum(case((f.outcome != "succeeded", 1), else_=0))
        summary = [
            FunctionRow(
                row.function,
                row.trigger,
                int(row[2]),
                int(row[3] or 0),
                round(float(row[4] or 0)),
                int(row[5]),
            )
            for row in conn.execute(
                select(
                    f.function,
                    f.trigger,
                    func.count(),
                    failed,
                    func.avg(f.duration_ms),
                    func.max(f.started_at),
                )
                .group_by(f.function, f.trigger)
                .order_by(f.function)
            )
        ]
        latest = [
            _invocation(row)
            for row in conn.execute(
                select(function_invocations).order_by(f.started_at.desc()).limit(LIMIT)
            )
        ]
        wanted = [i.correlation_id for i in latest if i.correlation_id]
        owners = (
            dict(
                conn.execute(
                    select(tool_calls.c.correlation_id, tool_calls.c.run_id).where(
                        tool_calls.c.correlation_id.in_(wanted)
                    )
                ).all()
            )
            if wanted
            else {}
        )
        return Functions(summary, [(i, owners.get(i.correlation_id)) for i in latest])

    @staticmethod
    def _knowledge(conn: Connection) -> Knowledge:
        shown = [
            FileRow(r.project, r.id, r.filename, r.purpose, r.bytes, r.created_at)
            for r in conn.execute(select(files).order_by(files.c.seq.desc()).limit(LIMIT))
        ]
        stores = list(
            conn.execute(select(vector_stores).order_by(vector_stores.c.seq.desc()).limit(LIMIT))
        )
        members: dict[str, list[tuple[str, str, str | None]]] = {}
        if stores:
            v = vector_store_files.c
            for row in conn.execute(
                select(v.vector_store_id, v.file_id, v.status, v.body)
                .where(v.vector_store_id.in_([s.id for s in stores]))
                .order_by(v.seq)
            ):
                error = dict(row.body).get("last_error")
                message = error.get("message") if isinstance(error, dict) else None
                members.setdefault(row.vector_store_id, []).append(
                    (row.file_id, row.status, message)
                )
        return Knowledge(
            shown,
            [
                StoreRow(s.project, s.id, dict(s.body).get("name"), members.get(s.id, []))
                for s in stores
            ],
        )

    def _queue(self, conn: Connection, account: str, name: str) -> QueueDetail | None:
        found = {
            row.name: row.id
            for row in conn.execute(
                select(queues.c.id, queues.c.name).where(
                    queues.c.account == account, queues.c.name.in_([name, name + POISON])
                )
            )
        }
        if name not in found:
            return None
        poison = found.get(name + POISON)
        return QueueDetail(
            account,
            name,
            self._messages(conn, found[name]),
            None if poison is None else self._messages(conn, poison),
        )

    def _messages(self, conn: Connection, queue_id: int) -> list[MessageRow]:
        now = self.clock()
        m = queue_messages.c
        found = conn.execute(
            select(m.message_id, m.inserted_at, m.visible_at, m.dequeue_count, m.body)
            .where(m.queue_id == queue_id, m.expires_at > now)
            .order_by(m.id)
            .limit(PEEK)
        )
        return [
            MessageRow(
                id=row.message_id,
                inserted_at=row.inserted_at,
                visible_at=row.visible_at,
                dequeue_count=row.dequeue_count,
                text=row.body if len(row.body) <= SHOWN_TEXT else row.body[:SHOWN_TEXT] + " …",
                held=row.visible_at > now,
            )
            for row in found
        ]

    def _overview(self, conn: Connection) -> Overview:
        return Overview(self._agents(conn), self._runs(conn), self._queues(conn))

    @staticmethod
    def _agents(conn: Connection) -> list[AgentRow]:
        rows = list(conn.execute(select(agents).order_by(agents.c.seq.desc()).limit(LIMIT)))
        versions: dict[tuple[str, str], list[tuple[int, str]]] = {}
        if rows:
            found = conn.execute(
                select(agent_versions)
                .where(agent_versions.c.agent_id.in_([row.id for row in rows]))
                .order_by(agent_versions.c.version.desc())
            )
            for version in found:
                key = (version.project, version.agent_id)
                model = _model(dict(version.body)) or ""
                versions.setdefault(key, []).append((version.version, model))
        return [
            AgentRow(
                row.project,
                row.id,
                row.api,
                row.name,
                row.latest,
                versions.get((row.project, row.id), []),
            )
            for row in rows
        ]

    @staticmethod
    def _runs(conn: Connection) -> list[RunRow]:
        found = conn.execute(select(runs).order_by(runs.c.seq.desc()).limit(LIMIT))
        return [_run_row(row) for row in found]

    def _queues(self, conn: Connection) -> list[QueueRow]:
        now = self.clock()
        live = queue_messages.c.expires_at > now
        visible = func.sum(case((and_(live, queue_messages.c.visible_at <= now), 1), else_=0))
        hidden = func.sum(case((and_(live, queue_messages.c.visible_at > now), 1), else_=0))
        found = conn.execute(
            select(queues.c.account, queues.c.name, visible, hidden)
            .select_from(queues.outerjoin(queue_messages, queue_messages.c.queue_id == queues.c.id))
            .group_by(queues.c.id, queues.c.account, queues.c.name)
            .order_by(queues.c.account, queues.c.name)
        )
        counts = {(r[0], r[1]): (int(r[2] or 0), int(r[3] or 0)) for r in found}
        return [
            QueueRow(
                account,
                name,
                shown,
                flying,
                sum(counts[(account, name + POISON)])
                if (account, name + POISON) in counts
                else None,
            )
            for (account, name), (shown, flying) in counts.items()
            if not name.endswith(POISON) or (account, name[: -len(POISON)]) not in counts
        ][: LIMIT * 2]

    def _run(self, conn: Connection, run_id: str) -> RunDetail | None:
        row = conn.execute(select(runs).where(runs.c.id == run_id)).one_or_none()
        if row is None:
            return None
        found = conn.execute(select(items).where(items.c.run_id == run_id).order_by(items.c.seq))
        own = [{**dict(i.body), "id": i.id, "step_id": i.step_id} for i in found]
        outputs = {
            i.get("call_id"): i.get("output")
            for i in own
            if i.get("type") == "function_call_output"
        }
        records = {
            c.id: c for c in conn.execute(select(tool_calls).where(tool_calls.c.run_id == run_id))
        }
        queued = {c.correlation_id: c for c in records.values() if c.correlation_id}
        invocations = _invocations(conn, list(queued))
        poisoned = _poisoned(
            conn, [c for c in queued.values() if c.state == "pending" and c.input_queue]
        )
        steps = []
        for step in conn.execute(
            select(run_steps.c.body).where(run_steps.c.run_id == run_id).order_by(run_steps.c.seq)
        ).scalars():
            body = dict(step)
            calls = [
                _call(item, records.get(item["id"]), outputs, invocations, poisoned)
                for item in own
                if item.get("step_id") == body.get("id") and item.get("type") == "function_call"
            ]
            steps.append(
                StepRow(
                    id=str(body.get("id")),
                    kind=str(body.get("kind")),
                    status=str(body.get("status")),
                    created_at=body.get("created_at"),
                    completed_at=body.get("completed_at"),
                    failed_at=body.get("failed_at"),
                    last_error=body.get("last_error"),
                    calls=calls,
                )
            )
        events = [
            (e.at, e.kind, dict(e.detail))
            for e in conn.execute(
                select(run_events).where(run_events.c.run_id == run_id).order_by(run_events.c.seq)
            )
        ]
        body = dict(row.body)
        spans = timeline(
            run_id,
            body,
            row.status,
            events,
            [
                Call(
                    c.name,
                    c.correlation_id,
                    c.state,
                    c.sent_at or c.created_at,
                    c.answered_at,
                    c.deadline,
                    c.correlation_id in poisoned,
                )
                for c in sorted(queued.values(), key=lambda c: int(c.created_at))
            ],
            [i for found in invocations.values() for i in found],
            self.clock(),
        )
        return RunDetail(_run_row(row), body.get("last_error"), steps, events, spans)


def _invocations(conn: Connection, correlation_ids: list[str]) -> dict[str, list[Invocation]]:
    """The invocations each queue call's message triggered, oldest first."""
    found: dict[str, list[Invocation]] = {}
    if not correlation_ids:
        return found
    f = function_invocations.c
    for row in conn.execute(
        select(function_invocations)
        .where(f.correlation_id.in_(correlation_ids))
        .order_by(f.started_at)
    ):
        found.setdefault(row.correlation_id, []).append(_invocation(row))
    return found


def _invocation(row: Any) -> Invocation:
    return Invocation(
        row.id,
        row.function,
        row.started_at,
        row.duration_ms,
        row.outcome,
        row.dequeue_count,
        row.error,
        row.correlation_id,
    )


def _poisoned(conn: Connection, calls: list[Any]) -> dict[str, tuple[str, str, str]]:
    """Where the messages of waiting calls lie poisoned: (account, queue, message id) by
    CorrelationId, found in the first messages of each input queue's poison queue."""
    if not calls:
        return {}
    names = {c.input_queue + POISON for c in calls}
    m = queue_messages.c
    found = conn.execute(
        select(queues.c.account, queues.c.name, m.message_id, m.body)
        .select_from(queues.join(queue_messages, m.queue_id == queues.c.id))
        .where(queues.c.name.in_(names))
        .order_by(m.id)
        .limit(PEEK * 8)
    )
    wanted = {c.correlation_id for c in calls}
    poisoned: dict[str, tuple[str, str, str]] = {}
    for row in found:
        correlation_id = stored_correlation_of(row.body)
        if correlation_id is not None and correlation_id in wanted:
            poisoned[correlation_id] = (row.account, row.name, row.message_id)
    return poisoned


def _call(
    item: Json,
    record: Any,
    outputs: dict[Any, Any],
    invocations: dict[str, list[Invocation]],
    poisoned: dict[str, tuple[str, str, str]],
) -> CallRow:
    """A call as its item made it, with its record's state where the ledger keeps one."""
    output = item.get("output") or outputs.get(item.get("call_id"))
    correlation_id = record.correlation_id if record is not None else None
    return CallRow(
        id=str(item["id"]),
        call_id=str(item.get("call_id") or ""),
        name=str(item.get("name") or item.get("tool") or ""),
        kind=record.kind if record is not None else str(item.get("tool") or "function"),
        state=record.state if record is not None else None,
        correlation_id=record.correlation_id if record is not None else None,
        input_queue=record.input_queue if record is not None else None,
        output_queue=record.output_queue if record is not None else None,
        created_at=record.created_at if record is not None else None,
        deadline=record.deadline if record is not None else None,
        answered_at=record.answered_at if record is not None else None,
        arguments=item.get("arguments"),
        output=str(output) if output is not None else None,
        invocations=invocations.get(correlation_id or "", []),
        poisoned=poisoned.get(correlation_id or ""),
    )
