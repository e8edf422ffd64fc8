"""The functions host's tables: invocation records and timer schedules.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "function_invocations",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("function", sa.String(128), nullable=False),
        sa.Column("trigger", sa.String(32), nullable=False),
        sa.Column("started_at", sa.BigInteger(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("dequeue_count", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_function_invocations"),
    )
    op.create_index(
        "ix_function_invocations_function_started_at",
        "function_invocations",
        ["function", "started_at"],
    )
    op.create_table(
        "timer_schedules",
        sa.Column("function", sa.String(128), nullable=False),
        sa.Column("schedule", sa.String(128), nullable=False),
        sa.Column("last_run", sa.BigInteger(), nullable=True),
        sa.Column("next_run", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("function", name="pk_timer_schedules"),
    )


def downgrade() -> None:
    op.drop_table("timer_schedules")
    op.drop_index("ix_function_invocations_function_started_at", "function_invocations")
    op.drop_table("function_invocations")
