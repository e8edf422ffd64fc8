"""Writing and dropping chunks (with their vectors) in one place, so no path forgets one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, delete, insert, select

from ferry.store.schema import chunk_vectors, chunks

__all__ = ["drop_chunks", "write_chunks"]


def drop_chunks(conn: Connection, *where: ColumnElement[bool]) -> None:
    """The chunks matching `where`, and their vectors."""
    seqs = select(chunks.c.seq).where(*where)
    conn.execute(delete(chunk_vectors).where(chunk_vectors.c.chunk_seq.in_(seqs)))
    conn.execute(delete(chunks).where(*where))


def write_chunks(
    conn: Connection,
    row: dict[str, Any],
    texts: Sequence[str],
    vectors: Sequence[bytes] | None,
) -> None:
    """`texts` as the chunks of `row`'s file in its store, with `vectors` if given."""
    if not texts:
        return
    rows = [
        {
            "project": row["project"],
            "vector_store_id": row["vector_store_id"],
            "file_id": row["file_id"],
            "number": number,
            "text": text,
        }
        for number, text in enumerate(texts)
    ]
    if vectors is None:
        conn.execute(insert(chunks), rows)
        return
    made = conn.execute(
        insert(chunks).returning(chunks.c.seq, sort_by_parameter_order=True), rows
    ).scalars()
    conn.execute(
        insert(chunk_vectors),
        [
            {"chunk_seq": seq, "vector_store_id": row["vector_store_id"], "vector": vector}
            for seq, vector in zip(made, vectors, strict=True)
        ],
    )
