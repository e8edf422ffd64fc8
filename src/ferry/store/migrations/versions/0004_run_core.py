"""The run core: both agents API generations on one vocabulary.

Agents with versions, conversations of items, runs of steps whose tool calls have one record
of their state, and a log of stream news. What the classic tables held is carried over: an
assistant becomes an agent with version 1, a thread a conversation, a message an item, a run
and its steps keep their ids, and each tool call of a step becomes a call item (with its
output item when it has one) and a `tool_calls` row that takes the queue call's state.

The conversion below is written out here, not imported, so that this migration keeps doing
what it did when Ferry's code moves on.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import secrets
import string
from typing import Any

import sqlalchemy as sa
from alembic import op

from ferry.types import Json

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_ALPHABET = string.ascii_letters + string.digits


def _new_id(prefix: str) -> str:
    return f"{prefix}_{''.join(secrets.choice(_ALPHABET) for _ in range(24))}"


def _create_tables() -> None:
    op.create_table(
        "agents",
        sa.Column("seq", _ID, autoincrement=True, nullable=False),
        sa.Column("project", sa.String(128), nullable=False),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("api", sa.String(8), nullable=False),
        sa.Column("name", sa.String(256), nullable=True),
        sa.Column("latest", sa.Integer(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_agents"),
        sa.UniqueConstraint("project", "id", name="uq_agents_project_id"),
    )
    op.create_index("ix_agents_project_api_seq", "agents", ["project", "api", "seq"])
    op.create_table(
        "agent_versions",
        sa.Column("seq", _ID, autoincrement=True, nullable=False),
        sa.Column("project", sa.String(128), nullable=False),
        sa.Column("id", sa.String(96), nullable=False),
        sa.Column("agent_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_agent_versions"),
        sa.UniqueConstraint(
            "project", "agent_id", "version", name="uq_agent_versions_project_agent_id_version"
        ),
        sa.UniqueConstraint("project", "id", name="uq_agent_versions_project_id"),
    )
    op.create_table(
        "conversations",
        sa.Column("seq", _ID, autoincrement=True, nullable=False),
        sa.Column("project", sa.String(128), nullable=False),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("api", sa.String(8), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_conversations"),
        sa.UniqueConstraint("id", name="uq_conversations_id"),
    )
    op.create_index("ix_conversations_project_api_seq", "conversations", ["project", "api", "seq"])
    op.create_table(
        "items",
        sa.Column("seq", _ID, autoincrement=True, nullable=False),
        sa.Column("project", sa.String(128), nullable=False),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("conversation_id", sa.String(64), nullable=True),
        sa.Column("run_id", sa.String(64), nullable=True),
        sa.Column("step_id", sa.String(64), nullable=True),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("call_id", sa.String(64), nullable=True),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_items"),
        sa.UniqueConstraint("id", name="uq_items_id"),
    )
    op.create_index(
        "ix_items_project_conversation_id_seq", "items", ["project", "conversation_id", "seq"]
    )
    op.create_index("ix_items_run_id_seq", "items", ["run_id", "seq"])
    op.create_index("ix_items_call_id", "items", ["call_id"])
    op.create_table(
        "runs",
        sa.Column("seq", _ID, autoincrement=True, nullable=False),
        sa.Column("project", sa.String(128), nullable=False),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("api", sa.String(8), nullable=False),
        sa.Column("conversation_id", sa.String(64), nullable=True),
        sa.Column("previous_run_id", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_until", sa.BigInteger(), nullable=True),
        sa.Column("wake_at", sa.BigInteger(), nullable=True),
        sa.Column("news", sa.Integer(), nullable=True),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_runs"),
        sa.UniqueConstraint("id", name="uq_runs_id"),
    )
    op.create_index(
        "ix_runs_project_conversation_id_seq", "runs", ["project", "conversation_id", "seq"]
    )
    op.create_index("ix_runs_wake_at", "runs", ["wake_at"])
    op.create_table(
        "run_steps",
        sa.Column("seq", _ID, autoincrement=True, nullable=False),
        sa.Column("project", sa.String(128), nullable=False),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_run_steps"),
        sa.UniqueConstraint("id", name="uq_run_steps_id"),
    )
    op.create_index("ix_run_steps_run_id_seq", "run_steps", ["run_id", "seq"])
    op.create_table(
        "tool_calls",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("project", sa.String(128), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("step_id", sa.String(64), nullable=False),
        sa.Column("call_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("deadline", sa.BigInteger(), nullable=True),
        sa.Column("answered_at", sa.BigInteger(), nullable=True),
        sa.Column("correlation_id", sa.String(64), nullable=True),
        sa.Column("input_url", sa.Text(), nullable=True),
        sa.Column("input_queue", sa.String(63), nullable=True),
        sa.Column("output_url", sa.Text(), nullable=True),
        sa.Column("output_queue", sa.String(63), nullable=True),
        sa.Column("payload", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.BigInteger(), nullable=True),
        sa.Column("late_answers", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tool_calls"),
        sa.UniqueConstraint("correlation_id", name="uq_tool_calls_correlation_id"),
    )
    op.create_index("ix_tool_calls_run_id", "tool_calls", ["run_id"])
    op.create_index(
        "ix_tool_calls_state_output_url_output_queue",
        "tool_calls",
        ["state", "output_url", "output_queue"],
    )
    op.create_table(
        "run_news",
        sa.Column("seq", _ID, autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_run_news"),
        sa.UniqueConstraint("run_id", "number", name="uq_run_news_run_id_number"),
    )


# The classic objects as 0003 stored them, in the core's shapes ------------------------------


def _tool(tool: Json) -> Json:
    if tool.get("type") == "azure_function":
        body = tool["azure_function"]
        function = body.get("function") or {}

        def side(binding: Json) -> Json:
            queue = binding.get("storage_queue") or {}
            endpoint = queue.get("queue_service_endpoint") or queue.get("queue_service_uri") or ""
            return {"endpoint": endpoint.rstrip("/"), "queue": queue.get("queue_name")}

        return {
            "type": "azure_function",
            "name": function.get("name"),
            "description": function.get("description"),
            "parameters": function.get("parameters"),
            "strict": None,
            "input": side(body.get("input_binding") or {}),
            "output": side(body.get("output_binding") or {}),
        }
    function = tool.get("function") or {}
    return {
        "type": "function",
        "name": function.get("name"),
        "description": function.get("description"),
        "parameters": function.get("parameters"),
        "strict": function.get("strict"),
    }


def _format(value: Any) -> Any:
    return None if value in (None, "auto") else value


def _usage(usage: Json | None) -> Json | None:
    if not usage:
        return None
    return {
        "input_tokens": usage.get("prompt_tokens", 0),
        "output_tokens": usage.get("completion_tokens", 0),
        "total_tokens": usage.get("total_tokens", 0),
    }


def _choice(choice: Any) -> Any:
    if isinstance(choice, dict):
        function = choice.get("function") or {}
        return {"type": "function", "name": function.get("name")}
    return choice


def _message(body: Json) -> Json:
    content = [
        {
            "type": "text",
            "text": part["text"]["value"],
            "annotations": part["text"].get("annotations") or [],
        }
        for part in body.get("content") or []
        if part.get("type") == "text"
    ]
    return {
        "type": "message",
        "role": body["role"],
        "content": content,
        "status": body.get("status", "completed"),
        "created_at": body["created_at"],
        "completed_at": body.get("completed_at"),
        "incomplete_at": body.get("incomplete_at"),
        "incomplete_details": body.get("incomplete_details"),
        "attachments": body.get("attachments") or [],
        "metadata": body.get("metadata") or {},
        "agent": {"id": body["assistant_id"]} if body.get("assistant_id") else None,
    }


def _run(body: Json) -> Json:
    return {
        "created_at": body["created_at"],
        "expires_at": body.get("expires_at"),
        "agent": {"id": body.get("assistant_id"), "name": None, "version": "1"},
        "model": body.get("model"),
        "instructions": body.get("instructions"),
        "tools": [_tool(t) for t in body.get("tools") or []],
        "tool_choice": _choice(body.get("tool_choice")),
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "temperature": body.get("temperature"),
        "top_p": body.get("top_p"),
        "format": _format(body.get("response_format")),
        "max_prompt_tokens": body.get("max_prompt_tokens"),
        "max_output_tokens": body.get("max_completion_tokens"),
        "truncation": body.get("truncation_strategy"),
        "metadata": body.get("metadata") or {},
        "usage": _usage(body.get("usage")),
        "last_error": body.get("last_error"),
        "incomplete_details": body.get("incomplete_details"),
        "started_at": body.get("started_at"),
        "completed_at": body.get("completed_at"),
        "failed_at": body.get("failed_at"),
        "cancelled_at": body.get("cancelled_at"),
        "client_calls": "wait",
        "horizon": None,
        "tool_timeout": None,
    }


def _step(body: Json) -> Json:
    return {
        "id": body["id"],
        "kind": body["type"],
        "status": body["status"],
        "created_at": body["created_at"],
        "completed_at": body.get("completed_at"),
        "cancelled_at": body.get("cancelled_at"),
        "failed_at": body.get("failed_at"),
        "expired_at": body.get("expired_at"),
        "last_error": body.get("last_error"),
        "usage": _usage(body.get("usage")),
    }


_TERMINAL = ("completed", "failed", "cancelled", "expired", "incomplete")
_QUEUE_COLUMNS = (
    "deadline",
    "answered_at",
    "correlation_id",
    "input_url",
    "input_queue",
    "output_url",
    "output_queue",
    "payload",
    "sent_at",
)


class _Copy:
    """Rows for the new tables, from the old ones (read whole before they are dropped)."""

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn
        old = sa.MetaData()
        names = ("assistants", "agent_threads", "thread_messages", "runs", "run_steps")
        self.old = {name: sa.Table(name, old, autoload_with=conn) for name in names}
        self.old["queue_calls"] = sa.Table("queue_calls", old, autoload_with=conn)
        self.rows: dict[str, list[Json]] = {
            name: []
            for name in (
                "agents",
                "agent_versions",
                "conversations",
                "items",
                "runs",
                "run_steps",
                "tool_calls",
            )
        }
        self.run_status: dict[str, str] = {}
        self.message_steps: dict[str, str] = {}

    def _read(self, name: str) -> list[Any]:
        table = self.old[name]
        return list(self.conn.execute(sa.select(table).order_by(table.c.seq)))

    def assistants(self) -> None:
        for row in self._read("assistants"):
            body = dict(row.body)
            self.rows["agents"].append(
                {
                    "project": row.project,
                    "id": row.id,
                    "api": "classic",
                    "name": body.get("name"),
                    "latest": 1,
                    "body": {},
                }
            )
            definition = {
                "kind": "prompt",
                "model": body.get("model"),
                "instructions": body.get("instructions"),
                "tools": [_tool(t) for t in body.get("tools") or []],
                "tool_resources": body.get("tool_resources") or {},
                "temperature": body.get("temperature"),
                "top_p": body.get("top_p"),
                "format": _format(body.get("response_format")),
            }
            version = {
                "created_at": body.get("created_at", 0),
                "description": body.get("description"),
                "metadata": body.get("metadata") or {},
                "definition": definition,
            }
            self.rows["agent_versions"].append(
                {
                    "project": row.project,
                    "id": f"{row.id}:1",
                    "agent_id": row.id,
                    "version": 1,
                    "body": version,
                }
            )

    def threads(self) -> None:
        for row in self._read("agent_threads"):
            body = dict(row.body)
            self.rows["conversations"].append(
                {
                    "project": row.project,
                    "id": row.id,
                    "api": "classic",
                    "body": {
                        "created_at": body.get("created_at", 0),
                        "metadata": body.get("metadata") or {},
                        "tool_resources": body.get("tool_resources") or {},
                    },
                }
            )

    def runs(self) -> None:
        for row in self._read("runs"):
            self.run_status[row.id] = row.status
            self.rows["runs"].append(
                {
                    "project": row.project,
                    "id": row.id,
                    "api": "classic",
                    "conversation_id": row.thread_id,
                    "previous_run_id": None,
                    "status": row.status,
                    "lease_owner": row.lease_owner,
                    "lease_until": row.lease_until,
                    "wake_at": row.wake_at,
                    "news": None,
                    "body": _run(dict(row.body)),
                }
            )

    def steps(self) -> None:
        queued = {
            (r.run_id, r.call_id): r for r in self.conn.execute(sa.select(self.old["queue_calls"]))
        }
        for row in self._read("run_steps"):
            body = dict(row.body)
            self.rows["run_steps"].append(
                {"project": row.project, "id": row.id, "run_id": row.run_id, "body": _step(body)}
            )
            details = body.get("step_details") or {}
            if details.get("type") == "message_creation":
                self.message_steps[details["message_creation"]["message_id"]] = row.id
                continue
            for call in details.get("tool_calls") or []:
                self._call(row, body, call, queued.get((row.run_id, call["id"])))

    def _call(self, step: Any, body: Json, call: Json, queued: Any) -> None:
        function = call.get("function") or {}
        tool = "azure_function" if queued is not None or "queue" in call else "function"
        item_id = _new_id("fc")
        place = {
            "project": step.project,
            "conversation_id": step.thread_id,
            "run_id": step.run_id,
            "step_id": step.id,
        }
        made = {"call_id": call["id"], "tool": tool, "created_at": body["created_at"]}
        self.rows["items"].append(
            {
                **place,
                "id": item_id,
                "type": "function_call",
                "call_id": call["id"],
                "body": {
                    "type": "function_call",
                    "name": function.get("name"),
                    "arguments": function.get("arguments") or "",
                    **made,
                },
            }
        )
        output = function.get("output")
        if output is None and queued is not None and queued.state == "answered":
            output = queued.output
        if output is not None:
            self.rows["items"].append(
                {
                    **place,
                    "id": _new_id("fco"),
                    "type": "function_call_output",
                    "call_id": call["id"],
                    "body": {"type": "function_call_output", "output": output, **made},
                }
            )
        row: Json = {
            "id": item_id,
            "project": step.project,
            "run_id": step.run_id,
            "step_id": step.id,
            "call_id": call["id"],
            "kind": tool,
            "name": function.get("name") or "",
            "created_at": body["created_at"] * 1000,
            "late_answers": 0,
            **dict.fromkeys(_QUEUE_COLUMNS),
        }
        if queued is not None:
            row["state"] = queued.state
            for column in ("created_at", "late_answers", *_QUEUE_COLUMNS):
                row[column] = getattr(queued, column)
        elif output is not None:
            row["state"] = "answered"
        else:
            ended = self.run_status.get(step.run_id) in _TERMINAL
            row["state"] = "cancelled" if ended else "pending"
        self.rows["tool_calls"].append(row)

    def messages(self) -> None:
        for row in self._read("thread_messages"):
            self.rows["items"].append(
                {
                    "project": row.project,
                    "id": row.id,
                    "conversation_id": row.thread_id,
                    "run_id": row.run_id,
                    "step_id": self.message_steps.get(row.id),
                    "type": "message",
                    "call_id": None,
                    "body": _message(dict(row.body)),
                }
            )

        # Messages and calls in the order they were made, by the second each carries; within
        # a second, the client's messages, then calls, their outputs, and what runs answered.
        def order(item: Json) -> tuple[int, int]:
            phase = {"function_call": 1, "function_call_output": 2}.get(item["type"], 0)
            if item["type"] == "message" and item["run_id"] is not None:
                phase = 3
            return item["body"]["created_at"], phase

        self.rows["items"].sort(key=order)

    def all(self) -> dict[str, list[Json]]:
        self.assistants()
        self.threads()
        self.runs()
        self.steps()
        self.messages()
        return self.rows


def upgrade() -> None:
    conn = op.get_bind()
    rows = _Copy(conn).all()
    for table in ("run_steps", "runs", "thread_messages", "agent_threads", "assistants"):
        op.drop_table(table)
    op.drop_table("queue_calls")
    _create_tables()
    meta = sa.MetaData()
    for name, batch in rows.items():
        if batch:
            conn.execute(sa.insert(sa.Table(name, meta, autoload_with=conn)), batch)


def downgrade() -> None:
    raise NotImplementedError("the run core's tables cannot be turned back into 0003's")
