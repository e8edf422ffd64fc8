"""Knowledge: files (their bytes in parts), vector stores, their files and batches, and the
chunks file_search finds, with each database's own full-text index over them.

SQLite: `chunks_fts`, an FTS5 table holding no text of its own (it reads `chunks`), kept in
step by triggers, with the Porter stemmer over Unicode words. PostgreSQL: a generated
`tsvector` column (English configuration, the same stemming) with a GIN index. Neither is in
`ferry.store.schema`: SQLAlchemy has no words for them, and only `ferry.knowledge.search`
queries them.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _tables() -> None:
    op.create_table(
        "files",
        sa.Column("seq", _ID, autoincrement=True, nullable=False),
        sa.Column("project", sa.String(128), nullable=False),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("filename", sa.String(512), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_files"),
        sa.UniqueConstraint("id", name="uq_files_id"),
    )
    op.create_index("ix_files_project_purpose_seq", "files", ["project", "purpose", "seq"])
    op.create_table(
        "file_parts",
        sa.Column("file_id", sa.String(64), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("written_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("file_id", "number", name="pk_file_parts"),
    )
    op.create_table(
        "vector_stores",
        sa.Column("seq", _ID, autoincrement=True, nullable=False),
        sa.Column("project", sa.String(128), nullable=False),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_vector_stores"),
        sa.UniqueConstraint("id", name="uq_vector_stores_id"),
    )
    op.create_index("ix_vector_stores_project_seq", "vector_stores", ["project", "seq"])
    op.create_table(
        "vector_store_files",
        sa.Column("seq", _ID, autoincrement=True, nullable=False),
        sa.Column("project", sa.String(128), nullable=False),
        sa.Column("vector_store_id", sa.String(64), nullable=False),
        sa.Column("file_id", sa.String(64), nullable=False),
        sa.Column("batch_id", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_until", sa.BigInteger(), nullable=True),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_vector_store_files"),
        sa.UniqueConstraint(
            "vector_store_id", "file_id", name="uq_vector_store_files_vector_store_id_file_id"
        ),
    )
    op.create_index(
        "ix_vector_store_files_status_lease_until",
        "vector_store_files",
        ["status", "lease_until"],
    )
    op.create_index("ix_vector_store_files_batch_id", "vector_store_files", ["batch_id"])
    op.create_table(
        "vector_store_batches",
        sa.Column("seq", _ID, autoincrement=True, nullable=False),
        sa.Column("project", sa.String(128), nullable=False),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("vector_store_id", sa.String(64), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_vector_store_batches"),
        sa.UniqueConstraint("id", name="uq_vector_store_batches_id"),
    )
    op.create_table(
        "chunks",
        sa.Column("seq", _ID, autoincrement=True, nullable=False),
        sa.Column("project", sa.String(128), nullable=False),
        sa.Column("vector_store_id", sa.String(64), nullable=False),
        sa.Column("file_id", sa.String(64), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_chunks"),
    )
    op.create_index("ix_chunks_vector_store_id_file_id", "chunks", ["vector_store_id", "file_id"])


_SQLITE_INDEX = [
    "CREATE VIRTUAL TABLE chunks_fts USING fts5("
    "text, content='chunks', content_rowid='seq', tokenize='porter unicode61')",
    "CREATE TRIGGER chunks_fts_insert AFTER INSERT ON chunks BEGIN "
    "INSERT INTO chunks_fts(rowid, text) VALUES (new.seq, new.text); END",
    "CREATE TRIGGER chunks_fts_delete AFTER DELETE ON chunks BEGIN "
    "INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', old.seq, old.text); END",
]

_POSTGRES_INDEX = [
    "ALTER TABLE chunks ADD COLUMN tsv tsvector "
    "GENERATED ALWAYS AS (to_tsvector('english', text)) STORED",
    "CREATE INDEX ix_chunks_tsv ON chunks USING gin (tsv)",
]


def upgrade() -> None:
    _tables()
    dialect = op.get_bind().dialect.name
    for statement in _SQLITE_INDEX if dialect == "sqlite" else _POSTGRES_INDEX:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE chunks_fts")
    for table in (
        "chunks",
        "vector_store_batches",
        "vector_store_files",
        "vector_stores",
        "file_parts",
        "files",
    ):
        op.drop_table(table)
