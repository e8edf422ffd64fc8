"""The search itself, on each database: full-text ranking, hybrid fusion with vectors, the
score, and that a project only ever reads its own chunks."""

from __future__ import annotations

import asyncio

import numpy as np

from ferry.knowledge.chunkstore import write_chunks
from ferry.knowledge.embeddings import from_vector, to_vector
from ferry.knowledge.search import VectorIndex, coverage, search_chunks
from ferry.store import Database


def _put(
    database: Database,
    project: str,
    store: str,
    file_id: str,
    texts: list[str],
    vectors: list[list[float]] | None = None,
) -> None:
    row = {"project": project, "vector_store_id": store, "file_id": file_id}
    packed = [to_vector(v) for v in vectors] if vectors is not None else None
    database.write_sync(lambda conn: write_chunks(conn, row, texts, packed))


def _search(database: Database, project: str, stores: list[str], query: str, **kw: object):  # type: ignore[no-untyped-def]
    return asyncio.run(search_chunks(database, project, stores, query, **kw))  # type: ignore[arg-type]


def test_full_text_ranks_and_stems(database: Database) -> None:
    _put(database, "p", "vs_1", "f_a", ["The ferries sail at dawn.", "Lanterns light the pier."])
    _put(database, "p", "vs_1", "f_b", ["A ferry is a boat; ferry crossings are short."])
    hits = _search(database, "p", ["vs_1"], "ferry crossing")
    assert [h.file_id for h in hits][:1] == ["f_b"]
    # "ferries" is found through stemming.
    assert {h.text for h in hits} >= {"The ferries sail at dawn."}
    assert all(0 < h.score <= 1 for h in hits)


def test_projects_and_stores_are_walls(database: Database) -> None:
    _put(database, "p", "vs_1", "f_a", ["zebras have stripes"])
    _put(database, "q", "vs_2", "f_b", ["zebras graze at noon"])
    assert [h.file_id for h in _search(database, "p", ["vs_1", "vs_2"], "zebras")] == ["f_a"]
    assert [h.file_id for h in _search(database, "q", ["vs_1", "vs_2"], "zebras")] == ["f_b"]
    assert _search(database, "p", ["vs_3"], "zebras") == []


def test_hostile_queries_are_just_words(database: Database) -> None:
    _put(database, "p", "vs_1", "f_a", ['quotes " and stars * and NEAR(a b)'])
    for query in ('"', "* OR NOT", "a & b | !c", "'); DROP TABLE chunks; --", "", "NEAR(a b)"):
        _search(database, "p", ["vs_1"], query)  # no error, whatever it finds
    assert _search(database, "p", ["vs_1"], "stars")[0].file_id == "f_a"


def test_hybrid_fuses_words_and_vectors(database: Database) -> None:
    # f_near shares no word with the query but its vector points the same way.
    _put(database, "p", "vs_1", "f_words", ["harbour fog harbour"], [[0.0, 1.0, 0.0]])
    _put(database, "p", "vs_1", "f_near", ["completely different text"], [[1.0, 0.0, 0.0]])
    _put(database, "p", "vs_1", "f_none", ["unrelated"], [[0.0, 0.0, 1.0]])
    query = from_vector(to_vector([1.0, 0.2, 0.0]))
    index = VectorIndex()
    hits = _search(database, "p", ["vs_1"], "harbour", query_vector=query, index=index, limit=3)
    found = [h.file_id for h in hits]
    assert set(found[:2]) == {"f_words", "f_near"}
    near = next(h for h in hits if h.file_id == "f_near")
    assert near.score == round(float(np.dot(query, from_vector(to_vector([1, 0, 0])))), 4)
    # A threshold cuts what scores below it.
    strict = _search(
        database, "p", ["vs_1"], "harbour", query_vector=query, index=index, score_threshold=0.99
    )
    assert [h.file_id for h in strict] == ["f_words"]
    # New chunks are seen: the index reads a store again when its chunks change.
    _put(database, "p", "vs_1", "f_new", ["nothing alike"], [[1.0, 0.2, 0.0]])
    again = _search(database, "p", ["vs_1"], "zzz", query_vector=query, index=index, limit=1)
    assert [h.file_id for h in again] == ["f_new"]


def test_coverage() -> None:
    assert coverage(["zebras", "stripes"], "Zebra stripes are unique") == 1.0
    assert coverage(["zebras", "of"], "zebras") == 1.0  # short words do not count
    assert coverage(["cars"], "bananas") == 0.0
    assert coverage([], "anything") == 0.0


def test_a_rare_word_outranks_common_ones(database: Database) -> None:
    """Both engines weigh a word by its rarity (PostgreSQL's `ts_rank_cd` alone does not)."""
    common = [f"harbour fog tide harbour fog tide number {n}" for n in range(40)]
    _put(database, "p", "vs_1", "f_common", common)
    _put(database, "p", "vs_1", "f_rare", ["a zeppelin over the harbour"])
    for query in ("zeppelin harbour fog tide", "What do the files say about the zeppelin?"):
        hits = _search(database, "p", ["vs_1"], query)
        assert hits[0].file_id == "f_rare", query


def test_a_query_of_stop_words_only(database: Database) -> None:
    """Kept as they are on SQLite; PostgreSQL's English configuration drops stop words from
    passages and queries alike, so there they find nothing (and fail nothing)."""
    _put(database, "p", "vs_1", "f_a", ["to be or not to be"])
    found = [h.file_id for h in _search(database, "p", ["vs_1"], "to be")]
    assert found == ([] if database.name == "postgres" else ["f_a"])
