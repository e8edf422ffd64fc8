"""Ferry's tables, declared once with SQLAlchemy Core; Alembic migrations create them.

Times are integer milliseconds since the Unix epoch (UTC). A message that never expires
carries `NEVER`, the last millisecond of year 9999, so that one index serves every query.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

__all__ = [
    "NEVER",
    "agent_threads",
    "assistants",
    "queue_calls",
    "run_events",
    "run_steps",
    "runs",
    "thread_messages",
    "function_invocations",
    "metadata",
    "queue_messages",
    "queue_service_properties",
    "queues",
    "timer_schedules",
]

NEVER = 253_402_300_799_000
"""`Fri, 31 Dec 9999 23:59:59 GMT` in milliseconds: the expiry of a message with TTL -1."""

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only auto-assigns ids to a column declared exactly INTEGER PRIMARY KEY.
_Id = BigInteger().with_variant(Integer(), "sqlite")

queues = Table(
    "queues",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("account", String(64), nullable=False),
    Column("name", String(63), nullable=False),
    Column("metadata", JSON, nullable=False),
    Column("acl", JSON, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("account", "name"),
)

queue_messages = Table(
    "queue_messages",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("queue_id", _Id, ForeignKey("queues.id", ondelete="CASCADE"), nullable=False),
    Column("message_id", String(36), nullable=False),
    Column("body", Text, nullable=False),
    Column("inserted_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("visible_at", BigInteger, nullable=False),
    Column("dequeue_count", Integer, nullable=False),
    Column("receipt_nonce", BigInteger, nullable=False),
    Index(None, "queue_id", "visible_at", "id"),
    Index(None, "expires_at"),
)

queue_service_properties = Table(
    "queue_service_properties",
    metadata,
    Column("account", String(64), primary_key=True),
    Column("properties", JSON, nullable=False),
)

function_invocations = Table(
    "function_invocations",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("function", String(128), nullable=False),
    Column("trigger", String(32), nullable=False),
    Column("started_at", BigInteger, nullable=False),
    Column("duration_ms", Integer, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("dequeue_count", Integer, nullable=True),
    Column("error", Text, nullable=True),
    Index(None, "function", "started_at"),
)
"""One row per function invocation, for the dashboard and tracing to show."""

timer_schedules = Table(
    "timer_schedules",
    metadata,
    Column("function", String(128), primary_key=True),
    Column("schedule", String(128), nullable=False),
    Column("last_run", BigInteger, nullable=True),
    Column("next_run", BigInteger, nullable=False),
)
"""Each timer's next occurrence: the host that moves `next_run` on first fires it, so hosts
sharing a database run each occurrence once, and a missed one is seen as past due."""


# The agent service. Each object is kept as its wire JSON (`body`) plus the columns queries
# need; `seq` orders lists, since `created_at` has only second precision.


def _object_table(name: str, *parents: str) -> Table:
    return Table(
        name,
        metadata,
        Column("seq", _Id, primary_key=True, autoincrement=True),
        Column("project", String(128), nullable=False),
        Column("id", String(64), nullable=False, unique=True),
        *(Column(parent, String(64), nullable=False) for parent in parents),
        Column("body", JSON, nullable=False),
        Index(None, "project", *parents, "seq"),
    )


assistants = _object_table("assistants")
agent_threads = _object_table("agent_threads")
thread_messages = _object_table("thread_messages", "thread_id")
thread_messages.append_column(Column("run_id", String(64), nullable=True))
runs = _object_table("runs", "thread_id")
runs.append_column(Column("status", String(16), nullable=False))
runs.append_column(Column("lease_owner", String(64), nullable=True))
runs.append_column(Column("lease_until", BigInteger, nullable=True))
runs.append_column(Column("wake_at", BigInteger, nullable=True))
Index(None, runs.c.wake_at)
run_steps = _object_table("run_steps", "thread_id", "run_id")

queue_calls = Table(
    "queue_calls",
    metadata,
    Column("correlation_id", String(64), primary_key=True),
    Column("project", String(128), nullable=False),
    Column("run_id", String(64), nullable=False),
    Column("step_id", String(64), nullable=False),
    Column("call_id", String(64), nullable=False),
    Column("tool", String(128), nullable=False),
    Column("input_url", Text, nullable=False),
    Column("input_queue", String(63), nullable=False),
    Column("output_url", Text, nullable=False),
    Column("output_queue", String(63), nullable=False),
    Column("payload", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("sent_at", BigInteger, nullable=True),
    Column("answered_at", BigInteger, nullable=True),
    Column("deadline", BigInteger, nullable=False),
    Column("output", Text, nullable=True),
    Column("late_answers", Integer, nullable=False),
    Index(None, "run_id"),
    Index(None, "state", "output_url", "output_queue"),
)
"""`azure_function` tool calls: recorded before their message is put on the input queue, so
a crash between the two re-sends rather than forgets; answered once, by CorrelationId."""

run_events = Table(
    "run_events",
    metadata,
    Column("seq", _Id, primary_key=True, autoincrement=True),
    Column("run_id", String(64), nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("detail", JSON, nullable=False),
    Index(None, "run_id", "seq"),
)
"""A run's timeline (model calls, queue messages put, picked up, answered, timed out) for
`ferry runs show`."""
