"""The agent service's tables: agents, threads, messages, runs, run steps, queue tool calls
and run timelines.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _object_table(name: str, *columns: sa.Column[object], parents: tuple[str, ...] = ()) -> None:
    op.create_table(
        name,
        sa.Column("seq", _ID, autoincrement=True, nullable=False),
        sa.Column("project", sa.String(128), nullable=False),
        sa.Column("id", sa.String(64), nullable=False),
        *(sa.Column(parent, sa.String(64), nullable=False) for parent in parents),
        sa.Column("body", sa.JSON(), nullable=False),
        *columns,
        sa.PrimaryKeyConstraint("seq", name=f"pk_{name}"),
        sa.UniqueConstraint("id", name=f"uq_{name}_id"),
    )
    op.create_index(
        f"ix_{name}_{'_'.join(('project', *parents, 'seq'))}",
        name,
        ["project", *parents, "seq"],
    )


def upgrade() -> None:
    _object_table("assistants")
    _object_table("agent_threads")
    _object_table(
        "thread_messages", sa.Column("run_id", sa.String(64), nullable=True), parents=("thread_id",)
    )
    _object_table(
        "runs",
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_until", sa.BigInteger(), nullable=True),
        sa.Column("wake_at", sa.BigInteger(), nullable=True),
        parents=("thread_id",),
    )
    op.create_index("ix_runs_wake_at", "runs", ["wake_at"])
    _object_table("run_steps", parents=("thread_id", "run_id"))
    op.create_table(
        "queue_calls",
        sa.Column("correlation_id", sa.String(64), nullable=False),
        sa.Column("project", sa.String(128), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("step_id", sa.String(64), nullable=False),
        sa.Column("call_id", sa.String(64), nullable=False),
        sa.Column("tool", sa.String(128), nullable=False),
        sa.Column("input_url", sa.Text(), nullable=False),
        sa.Column("input_queue", sa.String(63), nullable=False),
        sa.Column("output_url", sa.Text(), nullable=False),
        sa.Column("output_queue", sa.String(63), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("sent_at", sa.BigInteger(), nullable=True),
        sa.Column("answered_at", sa.BigInteger(), nullable=True),
        sa.Column("deadline", sa.BigInteger(), nullable=False),
        sa.Column("output", sa.Text(), nullable=True),
        sa.Column("late_answers", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("correlation_id", name="pk_queue_calls"),
    )
    op.create_index("ix_queue_calls_run_id", "queue_calls", ["run_id"])
    op.create_index(
        "ix_queue_calls_state_output_url_output_queue",
        "queue_calls",
        ["state", "output_url", "output_queue"],
    )
    op.create_table(
        "run_events",
        sa.Column("seq", _ID, autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_run_events"),
    )
    op.create_index("ix_run_events_run_id_seq", "run_events", ["run_id", "seq"])


def downgrade() -> None:
    for table in (
        "run_events",
        "queue_calls",
        "run_steps",
        "runs",
        "thread_messages",
        "agent_threads",
        "assistants",
    ):
        op.drop_table(table)
