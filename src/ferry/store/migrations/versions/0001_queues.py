"""The queue service's tables.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "queues",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("acl", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_queues"),
        sa.UniqueConstraint("account", "name", name="uq_queues_account_name"),
    )
    op.create_table(
        "queue_messages",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("queue_id", _Id, nullable=False),
        sa.Column("message_id", sa.String(36), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("inserted_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("visible_at", sa.BigInteger(), nullable=False),
        sa.Column("dequeue_count", sa.Integer(), nullable=False),
        sa.Column("receipt_nonce", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_queue_messages"),
        sa.ForeignKeyConstraint(
            ["queue_id"],
            ["queues.id"],
            name="fk_queue_messages_queue_id_queues",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_queue_messages_queue_id_visible_at_id",
        "queue_messages",
        ["queue_id", "visible_at", "id"],
    )
    op.create_index("ix_queue_messages_expires_at", "queue_messages", ["expires_at"])
    op.create_table(
        "queue_service_properties",
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("properties", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("account", name="pk_queue_service_properties"),
    )


def downgrade() -> None:
    op.drop_table("queue_service_properties")
    op.drop_table("queue_messages")
    op.drop_table("queues")
