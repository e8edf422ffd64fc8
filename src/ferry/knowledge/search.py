"""Finding chunks for a query with the database's own full-text search, no model needed.

SQLite ranks with FTS5's BM25 over Porter-stemmed words; PostgreSQL by the summed inverse
document frequencies (BM25's) of the English configuration's stems a chunk holds, then by
`ts_rank_cd`. The query's words, less English stop words, are OR-ed (a question rarely has
every word in one chunk). The engines' ranks are not comparable with each other, and BM25's are
near zero in small collections, so the `score` a result carries (and `score_threshold`
compares with) is plainer and the same on both: the share of the query's words of three or
more letters that the passage contains (a word counts when a passage word starts with its
first letters, which stands in for stemming). Results come in the engine's order. Only chunks
of the project's own vector stores are ever searched.

With an embeddings model set, retrieval is hybrid: the full-text ranking and the chunks whose
vectors are nearest the query's (exact search over the stores' vectors, held in memory per
process) are fused by reciprocal rank, and a hit's score is the larger of its word coverage
and its cosine similarity.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import Connection, Row, bindparam, func, select, text

from ferry.knowledge.embeddings import from_vector
from ferry.store import Database
from ferry.store.schema import chunk_vectors, chunks

__all__ = ["Hit", "VectorIndex", "coverage", "fuse", "search_chunks"]

_WORD = re.compile(r"\w+", re.UNICODE)
_MAX_TERMS = 32
_COUNT_CAP = 2_000
_RERANK = 200
"""PostgreSQL: how many of the best-weighted matches `ts_rank_cd` orders."""
_RRF = 60
"""Reciprocal-rank fusion's constant: how much a rank beyond the first few still counts."""


@dataclass(frozen=True)
class Hit:
    file_id: str
    vector_store_id: str
    number: int
    text: str
    score: float
    seq: int = 0
    """The chunk's row."""


_STOP_WORDS = """
a about above after again against all am an and any are as at be because been before
being below between both but by can could did do does doing down during each few for
from further had has have having he her here hers him his how i if in into is it its
itself just me more most my no nor not now of off on once only or other our ours out
over own same she should so some such than that the their theirs them then there these
they this those through to too under until up very was we were what when where which
while who whom why will with would you your yours
"""
_STOP = frozenset(_STOP_WORDS.split())
"""English words too common to tell passages apart: left out of queries (PostgreSQL's
English configuration drops its own; FTS5 has none, and they made every chunk match)."""


def _terms(query: str) -> list[str]:
    """The query's distinct words, lowercased, without stop words (unless that leaves
    none)."""
    words = list(dict.fromkeys(w.lower() for w in _WORD.findall(query)))
    kept = [w for w in words if w not in _STOP]
    return (kept or words)[:_MAX_TERMS]


_SQLITE = text(
    """
    SELECT c.seq, c.file_id, c.vector_store_id, c.number, c.text, -bm25(chunks_fts) AS rank
    FROM chunks_fts JOIN chunks AS c ON c.seq = chunks_fts.rowid
    WHERE chunks_fts MATCH :match AND c.project = :project AND c.vector_store_id IN :stores
    ORDER BY bm25(chunks_fts) LIMIT :limit
    """
).bindparams(bindparam("stores", expanding=True))


def _postgres_weights(
    conn: Connection, project: str, stores: list[str], terms: list[str]
) -> list[tuple[str, float]]:
    """Each term PostgreSQL keeps (not a stop word) with its inverse document frequency
    among the stores' chunks, BM25's `ln(1 + (N - n + 0.5) / (n + 0.5))`: `ts_rank_cd`
    alone weighs a rare word like a common one. Counting stops at `_COUNT_CAP` chunks a term
    (counting every chunk of a word in most of them took longer than the search): words
    that common all weigh the same, still far below a rare one."""
    scope = "project = :project AND vector_store_id IN :stores"
    parts = [f"SELECT -1 AS i, count(*) AS n FROM chunks WHERE {scope}"]
    values: dict[str, Any] = {"project": project, "stores": stores}
    for i, term in enumerate(terms):
        values[f"t{i}"] = term
        parts.append(
            f"SELECT {i}, CASE WHEN numnode(to_tsquery('english', :t{i})) = 0 THEN -1 ELSE "
            f"(SELECT count(*) FROM (SELECT 1 FROM chunks WHERE {scope} "
            f"AND tsv @@ to_tsquery('english', :t{i}) LIMIT {_COUNT_CAP}) AS x) END"
        )
    statement = text(" UNION ALL ".join(parts)).bindparams(bindparam("stores", expanding=True))
    counts = {int(i): int(n) for i, n in conn.execute(statement, values)}
    total = counts.pop(-1)
    return [
        (terms[i], math.log(1 + (total - n + 0.5) / (n + 0.5)))
        for i, n in sorted(counts.items())
        if n >= 0
    ]


def _postgres_query(
    conn: Connection, project: str, stores: list[str], terms: list[str], limit: int
) -> Any:
    """Chunks matching any term, by the sum of the weights of the terms they hold; among the
    best `_RERANK` of those, ties are broken by `ts_rank_cd` (how often and how close
    together), which is too slow to compute for every match of a common word."""
    weighted = _postgres_weights(conn, project, stores, terms)
    if not weighted:
        return []
    values: dict[str, Any] = {
        "project": project,
        "stores": stores,
        "limit": limit,
        "rerank": max(limit, _RERANK),
    }
    sums, parsed = [], []
    for i, (term, weight) in enumerate(weighted):
        values[f"t{i}"], values[f"w{i}"] = term, weight
        parsed.append(f"to_tsquery('english', :t{i}) AS q{i}")
        sums.append(f"CASE WHEN c.tsv @@ q.q{i} THEN :w{i} ELSE 0 END")
    # Terms are \w+ only, so no operator of tsquery's syntax can get in.
    values["match"] = " | ".join(term for term, _ in weighted)
    statement = text(
        f"""
        SELECT best.seq, best.file_id, best.vector_store_id, best.number, best.text,
               best.weight + 0.1 * ts_rank_cd(best.tsv, q.query, 32) AS rank
        FROM (
            SELECT c.seq, c.file_id, c.vector_store_id, c.number, c.text, c.tsv,
                   ({" + ".join(sums)}) AS weight
            FROM chunks AS c, (SELECT to_tsquery('english', :match) AS query,
                                      {", ".join(parsed)}) AS q
            WHERE c.tsv @@ q.query AND c.project = :project AND c.vector_store_id IN :stores
            ORDER BY weight DESC, c.seq LIMIT :rerank
        ) AS best, (SELECT to_tsquery('english', :match) AS query) AS q
        ORDER BY rank DESC, best.seq LIMIT :limit
        """
    ).bindparams(bindparam("stores", expanding=True))
    return conn.execute(statement, values).all()


def _query(
    conn: Connection, project: str, stores: Sequence[str], query: str, limit: int
) -> list[Hit]:
    terms = _terms(query)
    if not terms or not stores:
        return []
    if conn.dialect.name == "postgresql":
        rows = _postgres_query(conn, project, list(stores), terms, limit)
    else:
        match = " OR ".join(f'"{term}"' for term in terms)
        rows = conn.execute(
            _SQLITE,
            {"match": match, "project": project, "stores": list(stores), "limit": limit},
        ).all()
    return [
        Hit(file_id, store_id, number, chunk, coverage(terms, chunk), seq)
        for seq, file_id, store_id, number, chunk, _rank in rows
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


class VectorIndex:
    """The stores' chunk vectors in memory, for exact nearest-neighbour search by dot
    product (the vectors are unit length). A store's matrix is read once and read again only
    when its chunks change (their count or newest row differs), so a process answers many
    searches from one read; every process keeps its own."""

    def __init__(self) -> None:
        self._stores: dict[str, tuple[tuple[int, int], np.ndarray, np.ndarray]] = {}

    def nearest(
        self, conn: Connection, project: str, stores: Sequence[str], query: np.ndarray, limit: int
    ) -> list[tuple[int, float]]:
        """(chunk row, cosine) of the `limit` chunks nearest `query`, nearest first."""
        seqs: list[np.ndarray] = []
        scores: list[np.ndarray] = []
        for store in stores:
            found = self._matrix(conn, project, store)
            if found is None or found[1].shape[1] != query.shape[0]:
                continue
            seqs.append(found[0])
            scores.append(found[1] @ query)
        if not seqs:
            return []
        all_seqs, all_scores = np.concatenate(seqs), np.concatenate(scores)
        top = np.argsort(-all_scores, kind="stable")[:limit]
        return [(int(all_seqs[i]), float(all_scores[i])) for i in top]

    def _matrix(
        self, conn: Connection, project: str, store: str
    ) -> tuple[np.ndarray, np.ndarray] | None:
        owned = (chunks.c.project == project) & (chunks.c.vector_store_id == store)
        version = conn.execute(
            select(func.count(), func.max(chunk_vectors.c.chunk_seq))
            .select_from(chunk_vectors.join(chunks, chunks.c.seq == chunk_vectors.c.chunk_seq))
            .where(owned)
        ).one()
        key = (int(version[0]), int(version[1] or 0))
        if not key[0]:
            return None
        cached = self._stores.get(store)
        if cached is not None and cached[0] == key:
            return cached[1], cached[2]
        rows = conn.execute(
            select(chunk_vectors.c.chunk_seq, chunk_vectors.c.vector)
            .join(chunks, chunks.c.seq == chunk_vectors.c.chunk_seq)
            .where(owned)
        ).all()
        seqs = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
        matrix = np.stack([from_vector(row[1]) for row in rows])
        self._stores[store] = (key, seqs, matrix)
        return seqs, matrix


def _fetch(conn: Connection, project: str, seqs: Sequence[int]) -> dict[int, Row[Any]]:
    rows = conn.execute(
        select(chunks).where(chunks.c.project == project, chunks.c.seq.in_(list(seqs)))
    ).all()
    return {row.seq: row for row in rows}


def fuse(
    project: str,
    conn: Connection,
    query: str,
    words: list[Hit],
    near: list[tuple[int, float]],
    limit: int,
) -> list[Hit]:
    """Reciprocal-rank fusion of the full-text and the vector rankings (each chunk scores
    1/(60 + rank) in each list it is in). A hit's `score` is the larger of its word coverage
    and its cosine similarity (clipped to 0..1)."""
    fused: dict[int, float] = {}
    for rank, hit in enumerate(words):
        fused[hit.seq] = fused.get(hit.seq, 0.0) + 1.0 / (_RRF + rank + 1)
    for rank, (seq, _cosine) in enumerate(near):
        fused[seq] = fused.get(seq, 0.0) + 1.0 / (_RRF + rank + 1)
    best = sorted(fused, key=lambda seq: -fused[seq])[:limit]
    cosines = dict(near)
    rows = _fetch(conn, project, best)
    terms = _terms(query)
    hits = []
    for seq in best:
        row = rows.get(seq)
        if row is None:
            continue
        similarity = min(max(cosines.get(seq, 0.0), 0.0), 1.0)
        score = max(coverage(terms, row.text), round(similarity, 4))
        hits.append(Hit(row.file_id, row.vector_store_id, row.number, row.text, score, seq))
    return hits


async def search_chunks(
    database: Database,
    project: str,
    vector_store_ids: Sequence[str],
    query: str,
    *,
    limit: int = 20,
    score_threshold: float = 0.0,
    query_vector: np.ndarray | None = None,
    index: VectorIndex | None = None,
) -> list[Hit]:
    """The best `limit` chunks for `query` in these stores, best first: full-text, or
    hybrid (full-text fused with nearest vectors) when `query_vector` is given."""
    stores = list(vector_store_ids)
    if query_vector is None or index is None:
        hits = await database.read(lambda conn: _query(conn, project, stores, query, limit))
    else:
        depth = max(limit * 2, 20)

        def hybrid(conn: Connection) -> list[Hit]:
            words = _query(conn, project, stores, query, depth)
            near = index.nearest(conn, project, stores, query_vector, depth)
            return fuse(project, conn, query, words, near, limit)

        hits = await database.read(hybrid)
    return [hit for hit in hits if hit.score >= score_threshold]
