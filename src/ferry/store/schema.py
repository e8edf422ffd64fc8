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

__all__ = ["NEVER", "metadata", "queue_messages", "queue_service_properties", "queues"]

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
