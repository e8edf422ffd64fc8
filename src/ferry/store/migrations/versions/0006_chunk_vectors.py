"""Embeddings of chunks, for hybrid retrieval when an embeddings model is set.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chunk_vectors",
        sa.Column("chunk_seq", sa.BigInteger(), nullable=False),
        sa.Column("vector_store_id", sa.String(64), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("chunk_seq", name="pk_chunk_vectors"),
    )
    op.create_index("ix_chunk_vectors_vector_store_id", "chunk_vectors", ["vector_store_id"])


def downgrade() -> None:
    op.drop_table("chunk_vectors")
