"""Finding chunks for a query with the database's own full-text search, no model needed.

SQLite ranks with FTS5's BM25 over Porter-stemmed words; PostgreSQL with `ts_rank_cd` over
the English configuration's stems. The query's words are OR-ed (a question rarely has every
word in one chunk). The engines' ranks are not comparable with each other, and BM25's are
near zero in small collections, so the `score` a result carries (and `score_threshold`
compares with) is plainer and the same on both: the share of the query's words of three or
more letters that the passage contains (a word counts when a passage word starts with its
first letters, which stands in for stemming). Results come in the engine's order. Only chunks
of the project's own vector stores are ever searched.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, text

from ferry.store import Database

__all__ = ["Hit", "coverage", "search_chunks"]

_WORD = re.compile(r"\w+", re.UNICODE)
_MAX_TERMS = 32


@dataclass(frozen=True)
class Hit:
    file_id: str
    vector_store_id: str
    number: int
    text: str
    score: float


def _terms(query: str) -> list[str]:
    words = [w.lower() for w in _WORD.findall(query)]
    return list(dict.fromkeys(words))[:_MAX_TERMS]


_SQLITE = text(
    """
    SELECT c.file_id, c.vector_store_id, c.number, c.text, -bm25(chunks_fts) AS rank
    FROM chunks_fts JOIN chunks AS c ON c.seq = chunks_fts.rowid
    WHERE chunks_fts MATCH :match AND c.project = :project AND c.vector_store_id IN :stores
    ORDER BY bm25(chunks_fts) LIMIT :limit
    """
).bindparams(bindparam("stores", expanding=True))

_POSTGRES = text(
    """
    SELECT c.file_id, c.vector_store_id, c.number, c.text,
           ts_rank_cd(c.tsv, q.query) AS rank
    FROM chunks AS c,
         (SELECT to_tsquery('english', :match) AS query) AS q
    WHERE c.tsv @@ q.query AND c.project = :project AND c.vector_store_id IN :stores
    ORDER BY rank DESC, c.seq LIMIT :limit
    """
).bindparams(bindparam("stores", expanding=True))


def _query(
    conn: Connection, project: str, stores: Sequence[str], query: str, limit: int
) -> list[Hit]:
    terms = _terms(query)
    if not terms or not stores:
        return []
    if conn.dialect.name == "postgresql":
        # Each word becomes a prefix-free lexeme query; to_tsquery stems it and drops stop
        # words. Words are \w+ only, so no operator of tsquery's syntax can get in.
        match = " | ".join(terms)
        statement = _POSTGRES
    else:
        match = " OR ".join(f'"{term}"' for term in terms)
        statement = _SQLITE
    rows = conn.execute(
        statement,
        {"match": match, "project": project, "stores": list(stores), "limit": limit},
    ).all()
    return [
        Hit(file_id, store_id, number, chunk, coverage(terms, chunk))
        for file_id, store_id, number, chunk, _rank in rows
    ]


def coverage(terms: Sequence[str], passage: str) -> float:
    """The share of `terms` (3 letters or more) found in `passage`, 0..1."""
    wanted = [term for term in terms if len(term) >= 3]
    if not wanted:
        return 0.0
    words = {w.lower() for w in _WORD.findall(passage)}
    found = 0
    for term in wanted:
        stem = term[: max(4, len(term) - 2)]
        if term in words or any(word.startswith(stem) for word in words):
            found += 1
    return round(found / len(wanted), 4)


async def search_chunks(
    database: Database,
    project: str,
    vector_store_ids: Sequence[str],
    query: str,
    *,
    limit: int = 20,
    score_threshold: float = 0.0,
) -> list[Hit]:
    """The best `limit` chunks for `query` in these stores, best first."""
    hits = await database.read(
        lambda conn: _query(conn, project, list(vector_store_ids), query, limit)
    )
    return [hit for hit in hits if hit.score >= score_threshold]
