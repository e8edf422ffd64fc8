"""The CorrelationId of the tool call a queue-triggered invocation answered, when its
message carried one: how the dashboard joins a run's tool call to the invocation that
picked it up.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("function_invocations") as batch:
        batch.add_column(sa.Column("correlation_id", sa.String(64), nullable=True))
    op.create_index(
        "ix_function_invocations_correlation_id", "function_invocations", ["correlation_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_function_invocations_correlation_id", "function_invocations")
    with op.batch_alter_table("function_invocations") as batch:
        batch.drop_column("correlation_id")
