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
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

__all__ = [
    "NEVER",
    "agent_versions",
    "agents",
    "chunk_vectors",
    "chunks",
    "conversations",
    "file_parts",
    "files",
    "function_invocations",
    "items",
    "metadata",
    "queue_messages",
    "queue_service_properties",
    "queues",
    "run_events",
    "run_news",
    "run_steps",
    "runs",
    "timer_schedules",
    "tool_calls",
    "vector_store_batches",
    "vector_store_files",
    "vector_stores",
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
    Column("correlation_id", String(64), nullable=True),
    Index(None, "function", "started_at"),
    Index(None, "correlation_id"),
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


# The agent service's core. Both API generations are views of these tables (docs/agents.md
# has the mapping): agents with versions (a classic assistant is an agent with one version,
# changed in place), conversations (classic threads, v2 conversations) of items (messages,
# tool calls, tool outputs), and runs (classic runs, v2 responses) made of steps (one model
# call each) whose tool calls have one record of their state. Bodies are JSON in the core's
# own vocabulary (`ferry.agents.records`); columns are what queries need. `seq` orders lists,
# since `created_at` has only second precision.

agents = Table(
    "agents",
    metadata,
    Column("seq", _Id, primary_key=True, autoincrement=True),
    Column("project", String(128), nullable=False),
    Column("id", String(64), nullable=False),
    Column("api", String(8), nullable=False),
    Column("name", String(256), nullable=True),
    Column("latest", Integer, nullable=False),
    Column("body", JSON, nullable=False),
    UniqueConstraint("project", "id"),
    Index(None, "project", "api", "seq"),
)
"""A classic assistant (id `asst_…`) or a v2 agent (its id is its name)."""

agent_versions = Table(
    "agent_versions",
    metadata,
    Column("seq", _Id, primary_key=True, autoincrement=True),
    Column("project", String(128), nullable=False),
    Column("id", String(96), nullable=False),
    Column("agent_id", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("body", JSON, nullable=False),
    UniqueConstraint("project", "agent_id", "version"),
    UniqueConstraint("project", "id"),
)
"""An agent's definitions: immutable for v2 agents; one, changed in place, for assistants."""

conversations = Table(
    "conversations",
    metadata,
    Column("seq", _Id, primary_key=True, autoincrement=True),
    Column("project", String(128), nullable=False),
    Column("id", String(64), nullable=False, unique=True),
    Column("api", String(8), nullable=False),
    Column("body", JSON, nullable=False),
    Index(None, "project", "api", "seq"),
)

items = Table(
    "items",
    metadata,
    Column("seq", _Id, primary_key=True, autoincrement=True),
    Column("project", String(128), nullable=False),
    Column("id", String(64), nullable=False, unique=True),
    Column("conversation_id", String(64), nullable=True),
    Column("run_id", String(64), nullable=True),
    Column("step_id", String(64), nullable=True),
    Column("type", String(32), nullable=False),
    Column("call_id", String(64), nullable=True),
    Column("body", JSON, nullable=False),
    Index(None, "project", "conversation_id", "seq"),
    Index(None, "run_id", "seq"),
    Index(None, "call_id"),
)
"""Messages, tool calls and tool outputs: of a conversation, of a run, or both."""

runs = Table(
    "runs",
    metadata,
    Column("seq", _Id, primary_key=True, autoincrement=True),
    Column("project", String(128), nullable=False),
    Column("id", String(64), nullable=False, unique=True),
    Column("api", String(8), nullable=False),
    Column("conversation_id", String(64), nullable=True),
    Column("previous_run_id", String(64), nullable=True),
    Column("status", String(16), nullable=False),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_until", BigInteger, nullable=True),
    Column("wake_at", BigInteger, nullable=True),
    Column("news", Integer, nullable=True),
    Column("body", JSON, nullable=False),
    Index(None, "project", "conversation_id", "seq"),
    Index(None, "wake_at"),
)
"""A classic run or a v2 response. `status` lives here only (never in the body), so the
claim that leases a run can start it in the same statement. `news` counts the stream events
logged for it (`run_news`), or is NULL when nobody may stream it."""

run_steps = Table(
    "run_steps",
    metadata,
    Column("seq", _Id, primary_key=True, autoincrement=True),
    Column("project", String(128), nullable=False),
    Column("id", String(64), nullable=False, unique=True),
    Column("run_id", String(64), nullable=False),
    Column("body", JSON, nullable=False),
    Index(None, "run_id", "seq"),
)
"""One model call of a run and what it made: a message, or tool calls."""

tool_calls = Table(
    "tool_calls",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("project", String(128), nullable=False),
    Column("run_id", String(64), nullable=False),
    Column("step_id", String(64), nullable=False),
    Column("call_id", String(64), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("name", String(128), nullable=False),
    Column("state", String(16), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("deadline", BigInteger, nullable=True),
    Column("answered_at", BigInteger, nullable=True),
    Column("correlation_id", String(64), nullable=True, unique=True),
    Column("input_url", Text, nullable=True),
    Column("input_queue", String(63), nullable=True),
    Column("output_url", Text, nullable=True),
    Column("output_queue", String(63), nullable=True),
    Column("payload", Text, nullable=True),
    Column("sent_at", BigInteger, nullable=True),
    Column("late_answers", Integer, nullable=False),
    Index(None, "run_id"),
    Index(None, "state", "output_url", "output_queue"),
)
"""The one record of a tool call's state (its id is the call item's). `azure_function` calls
carry their queues: recorded before their message is put on the input queue, so a crash
between the two re-sends rather than forgets; answered once, by CorrelationId."""

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

run_news = Table(
    "run_news",
    metadata,
    Column("seq", _Id, primary_key=True, autoincrement=True),
    Column("run_id", String(64), nullable=False),
    Column("number", Integer, nullable=False),
    Column("body", JSON, nullable=False),
    UniqueConstraint("run_id", "number"),
)
"""What a stream of the run tells, numbered, kept as long as the run: a client may replay a
background response's stream from the start or from after any number."""

# Knowledge (files, vector stores and their chunks; `ferry.knowledge`). A file's bytes are kept
# in parts of at most `PART_SIZE`, so that an upload or a download never holds the whole file
# in memory and every process sharing the database can read every file. Chunks are indexed for
# full-text search by the database itself: an FTS5 table over `chunks` on SQLite, a generated
# `tsvector` column with a GIN index on PostgreSQL (both made by migration 0005, not here).

files = Table(
    "files",
    metadata,
    Column("seq", _Id, primary_key=True, autoincrement=True),
    Column("project", String(128), nullable=False),
    Column("id", String(64), nullable=False, unique=True),
    Column("purpose", String(32), nullable=False),
    Column("filename", String(512), nullable=False),
    Column("bytes", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("body", JSON, nullable=False),
    Index(None, "project", "purpose", "seq"),
)
"""An uploaded file (or one a tool wrote); `body` holds what the views need beyond columns."""

file_parts = Table(
    "file_parts",
    metadata,
    Column("file_id", String(64), primary_key=True),
    Column("number", Integer, primary_key=True),
    Column("data", LargeBinary, nullable=False),
    Column("written_at", BigInteger, nullable=False),
)
"""A file's bytes, in order. Parts are written before the file's row, so a file is listed
only once all of it is stored; parts left by an upload cut short are swept up."""

vector_stores = Table(
    "vector_stores",
    metadata,
    Column("seq", _Id, primary_key=True, autoincrement=True),
    Column("project", String(128), nullable=False),
    Column("id", String(64), nullable=False, unique=True),
    Column("body", JSON, nullable=False),
    Index(None, "project", "seq"),
)

vector_store_files = Table(
    "vector_store_files",
    metadata,
    Column("seq", _Id, primary_key=True, autoincrement=True),
    Column("project", String(128), nullable=False),
    Column("vector_store_id", String(64), nullable=False),
    Column("file_id", String(64), nullable=False),
    Column("batch_id", String(64), nullable=True),
    Column("status", String(16), nullable=False),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_until", BigInteger, nullable=True),
    Column("body", JSON, nullable=False),
    UniqueConstraint("vector_store_id", "file_id"),
    Index(None, "status", "lease_until"),
    Index(None, "batch_id"),
)
"""A file in a vector store, and its ingestion: `in_progress` rows are leased by an ingester,
which turns them `completed` (with their chunks) or `failed` in one transaction."""

vector_store_batches = Table(
    "vector_store_batches",
    metadata,
    Column("seq", _Id, primary_key=True, autoincrement=True),
    Column("project", String(128), nullable=False),
    Column("id", String(64), nullable=False, unique=True),
    Column("vector_store_id", String(64), nullable=False),
    Column("body", JSON, nullable=False),
)

chunks = Table(
    "chunks",
    metadata,
    Column("seq", _Id, primary_key=True, autoincrement=True),
    Column("project", String(128), nullable=False),
    Column("vector_store_id", String(64), nullable=False),
    Column("file_id", String(64), nullable=False),
    Column("number", Integer, nullable=False),
    Column("text", Text, nullable=False),
    Index(None, "vector_store_id", "file_id"),
)
"""A piece of a file's text in one vector store, the unit file_search finds and cites."""

chunk_vectors = Table(
    "chunk_vectors",
    metadata,
    Column("chunk_seq", BigInteger, primary_key=True),
    Column("vector_store_id", String(64), nullable=False),
    Column("vector", LargeBinary, nullable=False),
    Index(None, "vector_store_id"),
)
"""A chunk's embedding (unit-length float32 bytes), when an embeddings model is set."""
