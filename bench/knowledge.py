"""The knowledge benchmark: how fast Ferry makes uploaded files searchable, how fast it answers
searches over them, and how often its full-text search finds the document that answers.

Each measurement runs on both database backends, one `ferry serve agents` at a time, each on a
fresh data folder (and, for PostgreSQL, a fresh database, dropped afterwards):

1. *Ingestion*, through the real HTTP API and ingester: N text files are uploaded
   (`POST /files`, four uploads at a time), put in one vector store (`POST /vector_stores`
   with the first 500, `POST /vector_stores/{id}/file_batches` for the rest, 500 per batch,
   as the hosted service caps a batch), and the store is polled until `completed`. Reported
   in MB/s and chunks/s, chunks being counted client-side as `len(chunk_text(text, 800, 400))`
   (the `auto` strategy), so the figure says how much searchable text the server made per
   second. Two corpora, of about `--chunks-small` and `--chunks-large` chunks: seeded
   pseudo-prose (English function words among 20,000 made-up content words drawn with Zipf's
   law, in sentences and paragraphs), each file carrying three rare words of its own.
2. *Query latency* at each size: p50/p95 of `search_chunks` (20 results, as file_search asks)
   over `--queries` queries of three kinds: a file's rare word with two common words; three of
   the 50 most frequent words; a question with English function words around two less common
   words, as a user types it and the scripted model passes it on. They run straight against
   the database the server wrote, after it stopped, so the figure is the engine's full-text
   index and not HTTP. On PostgreSQL they run after an `ANALYZE` of the chunks, as autovacuum
   does soon after a bulk insert (until then the planner scans the whole store); whether
   autovacuum had done it already is reported. And whole classic runs with the `file_search`
   tool on the scripted model (which searches for the user's words): the wall time from the
   request to the stream's end, of the first run and the median of the next five.
3. *Retrieval quality*: recall@1, recall@5 and MRR of each retrieval mode over the labelled
   set in `bench/data/retrieval/` (18 short documents, 44 questions, 17 of them paraphrased
   so that they share few words with their answer), file-level: a result counts when its
   chunk belongs to a relevant file, and files rank in the order their first chunk comes.
   Modes: full-text (no model), and hybrid with a real embeddings model, all-MiniLM-L6-v2,
   served over the OpenAI `/embeddings` protocol by `bench/embedserver.py` from a virtual
   environment of its own (`.bench/embed-venv`, which `make bench` builds: it needs PyTorch,
   which Ferry does not); without it the hybrid rows say so.

Why: file_search is only as useful as its index is quick to build, its searches are quick to
answer and its results are right. There is no offline alternative product to compare with (the
hosted service's file search runs in the cloud, out of reach here, and ranks with embeddings),
so the figures are set side by side for SQLite and PostgreSQL, and the quality figures stand
on their own, mode beside mode.

    python -m bench.knowledge [--chunks-small 1000] [--chunks-large 100000]
                              [--backend sqlite|postgres|both] [--queries 200] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import shutil
import socket
import sqlite3
import ssl
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from itertools import accumulate
from pathlib import Path

import httpx
import psycopg
from rich.table import Table
from sqlalchemy import Connection, func, select, text

from bench.servers import POSTGRES_ADMIN, drop_postgres_database, fresh_postgres_database
from ferry.cli.output import make_console
from ferry.identity.tokens import TokenIssuer
from ferry.knowledge.chunking import chunk_text
from ferry.knowledge.embeddings import Embedder, EmbeddingsConfig, from_vector
from ferry.knowledge.search import VectorIndex, search_chunks
from ferry.spawn import Child, spawn
from ferry.store import Database, open_database
from ferry.store.schema import chunks

DATA = Path(__file__).parent / "data" / "retrieval"
RESULTS = Path(".bench")
PROJECT = "bench"
BATCH = 500
"""File ids per request, the hosted service's limit on a file batch."""
UPLOADS_AT_ONCE = 4
RESULTS_PER_SEARCH = 20
"""What file_search asks `search_chunks` for unless a tool says otherwise."""
NAMES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}

console = make_console()
progress = make_console(stderr=True)


# -- corpora -------------------------------------------------------------------------------

# fmt: off
_FUNCTION_WORDS = [
    "the", "of", "and", "to", "a", "in", "is", "that", "it", "for", "was", "on", "as", "with",
    "be", "by", "at", "this", "are", "from", "or", "an", "but", "not", "have", "which", "they",
    "their", "one", "had", "has", "were", "all", "we", "can", "there", "been", "more", "when",
    "will", "would", "so", "if", "about", "its", "who", "into", "than", "them", "only", "other",
    "some", "these", "then", "also", "may", "could", "such", "what", "after", "over", "most",
    "where", "between", "through", "under", "each", "while", "both"
]
_ONSETS = [
    "b", "br", "c", "ch", "d", "dr", "f", "fl", "g", "gr", "h", "j", "k", "l", "m", "n", "p",
    "pl", "r", "s", "sh", "st", "t", "th", "tr", "v", "w", "z"
]
_VOWELS = ["a", "e", "i", "o", "u", "ai", "ea", "ou"]
_CODAS = ["", "", "", "n", "r", "l", "s", "t", "m", "nd"]
# fmt: on


@dataclass(frozen=True)
class Document:
    name: str
    data: bytes
    chunks: int
    rare: tuple[str, ...]
    """Words that occur in this file and no other."""


@dataclass
class Corpus:
    documents: list[Document]
    vocabulary: list[str]
    """The content words, most frequent first."""

    @property
    def chunks(self) -> int:
        return sum(d.chunks for d in self.documents)

    @property
    def megabytes(self) -> float:
        return sum(len(d.data) for d in self.documents) / 1e6


def _word(rng: random.Random, syllables: int) -> str:
    body = "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) for _ in range(syllables))
    return body + rng.choice(_CODAS)


def make_corpus(target_chunks: int, seed: int = 20261205) -> Corpus:
    """Files of about 10 to 70 chunks each until their chunks add up to `target_chunks` or more.

    Each file comes from a generator seeded with its number, so a corpus is the same on every
    run, and each file has three rare words of its own, planted three times each."""
    rng = random.Random(seed)
    vocabulary: list[str] = []
    taken = set(_FUNCTION_WORDS)
    while len(vocabulary) < 20_000:
        word = _word(rng, rng.choice((1, 2, 2, 3)))
        if len(word) >= 3 and word not in taken:
            taken.add(word)
            vocabulary.append(word)
    # About 45% of running words are function words; content words follow Zipf's law.
    population = _FUNCTION_WORDS + vocabulary
    share = 0.45 / len(_FUNCTION_WORDS)
    zipf = [1 / (rank + 2.7) for rank in range(len(vocabulary))]
    scale = 0.55 / sum(zipf)
    weights = list(accumulate([share] * len(_FUNCTION_WORDS) + [w * scale for w in zipf]))
    documents: list[Document] = []
    total = 0
    while total < target_chunks:
        own = random.Random(f"{seed}:{len(documents)}")
        wanted = min(own.randint(10, 70), target_chunks - total)
        rare = []
        while len(rare) < 3:
            word = _word(own, 4)
            if word not in taken:
                taken.add(word)
                rare.append(word)
        text = _prose(own, population, weights, wanted * 400 + 400, rare)
        count = len(chunk_text(text, 800, 400))
        documents.append(
            Document(f"doc-{len(documents):05d}.txt", text.encode(), count, tuple(rare))
        )
        total += count
    return Corpus(documents, vocabulary)


def _prose(
    rng: random.Random, population: list[str], weights: list[float], tokens: int, rare: list[str]
) -> str:
    """About `tokens` tokens of sentences (8 to 24 words) in paragraphs (3 to 8 sentences),
    with each rare word planted three times."""
    # A word here is 1.27 tokens on average: the full stops and commas, and the made-up words
    # longer than 8 letters, which count as one token per 4 letters.
    words = rng.choices(population, cum_weights=weights, k=int(tokens / 1.27))
    for word in rare:
        for _ in range(3):
            words[rng.randrange(len(words))] = word
    paragraphs: list[str] = []
    sentences: list[str] = []
    position = 0
    while position < len(words):
        length = rng.randint(8, 24)
        sentence = words[position : position + length]
        position += length
        if len(sentence) > 10 and rng.random() < 0.4:
            sentence[len(sentence) // 2] += ","
        sentences.append(" ".join(sentence).capitalize() + ".")
        if len(sentences) >= rng.randint(3, 8):
            paragraphs.append(" ".join(sentences))
            sentences = []
    if sentences:
        paragraphs.append(" ".join(sentences))
    return "\n\n".join(paragraphs) + "\n"


@dataclass(frozen=True)
class Query:
    kind: str
    text: str
    expected: str | None = None
    """The file a rare-word query should find first."""


QUERY_KINDS = ("rare word", "frequent words", "question")


def latency_queries(corpus: Corpus, count: int, seed: int = 11) -> list[Query]:
    rng = random.Random(seed)
    frequent = corpus.vocabulary[:50]
    common = corpus.vocabulary[20:500]
    ordinary = corpus.vocabulary[100:5000]
    queries: list[Query] = []
    for index in range(count):
        kind = QUERY_KINDS[index % 3]
        if kind == "rare word":
            document = rng.choice(corpus.documents)
            words = [rng.choice(document.rare), *rng.sample(common, 2)]
            rng.shuffle(words)
            queries.append(Query(kind, " ".join(words), document.name))
        elif kind == "frequent words":
            queries.append(Query(kind, " ".join(rng.sample(frequent, 3))))
        else:
            first, second = rng.sample(ordinary, 2)
            queries.append(Query(kind, f"What do the files say about the {first} and {second}?"))
    return queries


# -- a Ferry to measure ----------------------------------------------------------------------


@dataclass
class Place:
    """Where one server keeps its data: a folder, and a PostgreSQL database or none."""

    data: Path
    database_url: str | None

    def start(self, embeddings: str | None = None) -> Child:
        """`embeddings`: the base URL of an embeddings server, for hybrid retrieval."""
        args = ["serve", "agents", "--port", "0"]
        if self.database_url:
            args += ["--database-url", self.database_url]
        if embeddings is not None:
            config = self.data.parent / "ferry.toml"
            config.write_text(
                f'[embeddings]\nmodel = "all-MiniLM-L6-v2"\nbase_url = "{embeddings}"\n'
                'api_key = "none"\n'
            )
            args += ["--config", str(config)]
        # The scripted model answers in microseconds: the run's time is Ferry's and the search's.
        return spawn(args, self.data, env={"FERRY_FALLBACK_MODEL": "scripted"}, timeout=60)

    def open(self) -> Database:
        return open_database(database_url=self.database_url, data=self.data)

    def client(self, child: Child) -> httpx.AsyncClient:
        token = TokenIssuer(self.data).issue("https://ai.azure.com").value
        return httpx.AsyncClient(
            base_url=f"{child.url('agents')}/api/projects/{PROJECT}",
            verify=ssl.create_default_context(cafile=str(self.data / "tls" / "ca.pem")),
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(600.0),
        )


@contextlib.contextmanager
def _place(backend: str) -> Iterator[Place]:
    work = Path(tempfile.mkdtemp(prefix="ferry-kbench-"))
    url = fresh_postgres_database() if backend == "postgres" else None
    try:
        yield Place(work / "data", url)
    finally:
        if url:
            drop_postgres_database(url)
        shutil.rmtree(work, ignore_errors=True)


@dataclass
class Loaded:
    store_id: str
    file_ids: dict[str, str]
    """Document name → file id."""
    upload_s: float
    index_s: float


async def _load(client: httpx.AsyncClient, documents: list[Document]) -> Loaded:
    """Upload the documents, put them in a new vector store and wait until it is indexed."""
    ids: dict[str, str] = {}
    pending = iter(documents)

    async def uploader() -> None:
        for document in pending:
            response = await client.post(
                "/files",
                files={"file": (document.name, document.data, "text/plain")},
                data={"purpose": "assistants"},
            )
            response.raise_for_status()
            ids[document.name] = response.json()["id"]

    started = time.perf_counter()
    await asyncio.gather(*(uploader() for _ in range(UPLOADS_AT_ONCE)))
    uploaded = time.perf_counter()
    file_ids = [ids[d.name] for d in documents]
    strategy = {"type": "auto"}
    made = await client.post(
        "/vector_stores",
        json={"name": "bench", "file_ids": file_ids[:BATCH], "chunking_strategy": strategy},
    )
    made.raise_for_status()
    store_id = made.json()["id"]
    for first in range(BATCH, len(file_ids), BATCH):
        batch = {"file_ids": file_ids[first : first + BATCH], "chunking_strategy": strategy}
        response = await client.post(f"/vector_stores/{store_id}/file_batches", json=batch)
        response.raise_for_status()
    while True:
        response = await client.get(f"/vector_stores/{store_id}")
        response.raise_for_status()
        store = response.json()
        if store["status"] != "in_progress":
            break
        # Often while a small store finishes in under a second, then rarely enough (1 s) not to
        # take the ingester's time.
        await asyncio.sleep(min(1.0, 0.05 + (time.perf_counter() - uploaded) / 100))
    indexed = time.perf_counter()
    counts = store["file_counts"]
    if counts["completed"] != len(documents):
        raise SystemExit(f"the vector store ended {store['status']} with {counts}")
    return Loaded(store_id, ids, uploaded - started, indexed - uploaded)


async def _classic_run(
    client: httpx.AsyncClient, assistant: str, question: str
) -> tuple[float, str]:
    """One create-thread-and-run, streamed: its wall time in ms and its answer."""
    body = {
        "assistant_id": assistant,
        "stream": True,
        "thread": {"messages": [{"role": "user", "content": question}]},
    }
    started = time.perf_counter()
    status, event, pieces = "no end", "", []
    async with client.stream("POST", "/threads/runs", json=body) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "thread.message.delta":
                for part in json.loads(line[6:])["delta"]["content"]:
                    pieces.append(part["text"]["value"])
            elif line.startswith("data: ") and event.startswith("thread.run."):
                status = event.removeprefix("thread.run.")
            elif event == "done":
                break
    if status != "completed":
        raise SystemExit(f"a file_search run ended {status}")
    return (time.perf_counter() - started) * 1000, "".join(pieces)


async def _runs(client: httpx.AsyncClient, store_id: str, questions: list[str]) -> list[float]:
    made = await client.post(
        "/assistants",
        json={
            "model": "bench",
            "tools": [{"type": "file_search"}],
            "tool_resources": {"file_search": {"vector_store_ids": [store_id]}},
        },
    )
    made.raise_for_status()
    times = []
    for question in questions:
        took, answer = await _classic_run(client, made.json()["id"], question)
        if "】" not in answer:
            raise SystemExit(f"a file_search run answered without citing a file: {answer!r}")
        times.append(took)
    return times


def _stored_chunks(database: Database) -> int:
    return int(
        database.read_sync(
            lambda conn: conn.execute(select(func.count()).select_from(chunks)).scalar_one()
        )
    )


def _settle(database: Database) -> bool | None:
    """PostgreSQL: whether autovacuum had analysed the chunks since the server wrote them;
    then analyse them, so that every run searches with the statistics a busy table soon has.
    (Without them the planner takes a store's rows to be few and reads all of them.)"""
    if database.name != "postgres":
        return None

    def work(conn: Connection) -> bool:
        done = conn.execute(
            text("SELECT last_autoanalyze FROM pg_stat_user_tables WHERE relname = 'chunks'")
        ).scalar_one_or_none()
        conn.execute(text("ANALYZE chunks"))
        return done is not None

    return database.write_sync(work)


# -- 1 and 2: ingestion and query latency ------------------------------------------------------


@dataclass
class SizeReport:
    backend: str
    target_chunks: int
    files: int
    megabytes: float
    chunks: int
    """Counted client-side, `chunk_text(text, 800, 400)`."""
    chunks_stored: int
    """Counted in the database afterwards; equal to `chunks` unless something is wrong."""
    upload_s: float
    index_s: float
    upload_mb_s: float
    index_mb_s: float
    index_chunks_s: float
    total_mb_s: float
    total_chunks_s: float
    queries: int
    latency_ms: dict[str, dict[str, float]]
    """Query kind (and "all") → p50 and p95 in ms."""
    rare_found_first: float
    """Share of rare-word queries whose first result is from the file holding the word."""
    autoanalyzed: bool | None
    """PostgreSQL: autovacuum had analysed the chunks before the searches (they then run
    after an ANALYZE either way)."""
    run_first_ms: float
    run_median_ms: float
    """Median of the five classic file_search runs after the first."""


def _cuts(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    if len(ordered) < 2:
        return {"p50": ordered[0], "p95": ordered[0]}
    cuts = statistics.quantiles(ordered, n=100, method="inclusive")
    return {"p50": cuts[49], "p95": cuts[94]}


async def _latencies(
    database: Database, store_id: str, queries: list[Query], file_ids: dict[str, str]
) -> tuple[dict[str, dict[str, float]], float]:
    for query in queries[:10]:  # warm the caches and the connection pool
        await search_chunks(database, PROJECT, [store_id], query.text, limit=RESULTS_PER_SEARCH)
    samples: dict[str, list[float]] = {kind: [] for kind in QUERY_KINDS}
    found = 0
    for query in queries:
        started = time.perf_counter()
        hits = await search_chunks(
            database, PROJECT, [store_id], query.text, limit=RESULTS_PER_SEARCH
        )
        samples[query.kind].append((time.perf_counter() - started) * 1000)
        if query.expected and hits and hits[0].file_id == file_ids[query.expected]:
            found += 1
    latency = {kind: _cuts(values) for kind, values in samples.items() if values}
    latency["all"] = _cuts([ms for values in samples.values() for ms in values])
    rare = len(samples["rare word"])
    return latency, found / rare if rare else 0.0


def measure_size(backend: str, corpus: Corpus, target: int, query_count: int) -> SizeReport:
    queries = latency_queries(corpus, query_count)
    documents = [corpus.documents[i % len(corpus.documents)] for i in range(6)]
    questions = [f"What do the files say about {d.rare[i % 3]}?" for i, d in enumerate(documents)]
    label = f"{NAMES[backend]}, {corpus.chunks:,} chunks"
    with _place(backend) as place:
        child = place.start()
        try:

            async def over_http() -> tuple[Loaded, list[float]]:
                async with place.client(child) as client:
                    progress.print(f"[dim]{label}: uploading and indexing…[/dim]")
                    loaded = await _load(client, corpus.documents)
                    progress.print(f"[dim]{label}: classic runs with file_search…[/dim]")
                    return loaded, await _runs(client, loaded.store_id, questions)

            loaded, runs = asyncio.run(over_http())
        finally:
            child.stop()
        progress.print(f"[dim]{label}: {len(queries)} queries…[/dim]")
        database = place.open()
        try:
            stored = _stored_chunks(database)
            autoanalyzed = _settle(database)
            latency, found = asyncio.run(
                _latencies(database, loaded.store_id, queries, loaded.file_ids)
            )
        finally:
            database.close()
    total_s = loaded.upload_s + loaded.index_s
    return SizeReport(
        backend=backend,
        target_chunks=target,
        files=len(corpus.documents),
        megabytes=corpus.megabytes,
        chunks=corpus.chunks,
        chunks_stored=stored,
        upload_s=loaded.upload_s,
        index_s=loaded.index_s,
        upload_mb_s=corpus.megabytes / loaded.upload_s,
        index_mb_s=corpus.megabytes / loaded.index_s,
        index_chunks_s=corpus.chunks / loaded.index_s,
        total_mb_s=corpus.megabytes / total_s,
        total_chunks_s=corpus.chunks / total_s,
        queries=len(queries),
        latency_ms=latency,
        rare_found_first=found,
        autoanalyzed=autoanalyzed,
        run_first_ms=runs[0],
        run_median_ms=statistics.median(runs[1:]),
    )


# -- 3: retrieval quality ----------------------------------------------------------------------


@dataclass
class Scores:
    queries: int
    recall_at_1: float
    recall_at_5: float
    mrr: float


@dataclass
class QualityReport:
    backend: str
    mode: str
    """"full-text" or "hybrid"."""
    documents: int
    overall: Scores
    by_kind: dict[str, Scores]
    misses: list[str] = field(default_factory=list)
    """Questions with no relevant file among the first five."""


def _score(ranked: list[list[str]], relevant: list[list[str]]) -> Scores:
    def recall(files: list[str], wanted: list[str], k: int) -> float:
        return len(set(files[:k]) & set(wanted)) / len(wanted)

    def reciprocal(files: list[str], wanted: list[str]) -> float:
        return next((1 / rank for rank, f in enumerate(files, 1) if f in wanted), 0.0)

    count = len(ranked)
    return Scores(
        queries=count,
        recall_at_1=sum(recall(f, w, 1) for f, w in zip(ranked, relevant, strict=True)) / count,
        recall_at_5=sum(recall(f, w, 5) for f, w in zip(ranked, relevant, strict=True)) / count,
        mrr=sum(reciprocal(f, w) for f, w in zip(ranked, relevant, strict=True)) / count,
    )


EMBED_PYTHON = Path(".bench") / "embed-venv" / "bin" / "python"
EMBED_SERVER = Path(__file__).parent / "embedserver.py"


@contextlib.contextmanager
def embeddings_server() -> Iterator[str | None]:
    """The base URL of `bench/embedserver.py` running on a free loopback port, or None when
    its virtual environment is not there (`make bench` builds it)."""
    if not EMBED_PYTHON.exists():
        yield None
        return
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [str(EMBED_PYTHON), str(EMBED_SERVER), str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 180
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.post(f"{url}/embeddings", json={"input": ["ready?"]}).is_success:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the embeddings server did not start")
            time.sleep(0.5)
        yield url
    finally:
        process.kill()
        process.wait()


def measure_quality(backend: str, embeddings: str | None = None) -> QualityReport:
    """Full-text retrieval; hybrid when `embeddings` (a server's base URL) is given."""
    paths = sorted(DATA.glob("*.md"))
    documents = [Document(p.name, p.read_bytes(), 0, ()) for p in paths]
    labelled = json.loads((DATA / "queries.json").read_text())["queries"]
    mode = "full-text" if embeddings is None else "hybrid"
    progress.print(f"[dim]{NAMES[backend]}: retrieval quality, {mode}…[/dim]")
    with _place(backend) as place:
        child = place.start(embeddings)
        try:

            async def load() -> Loaded:
                async with place.client(child) as client:
                    return await _load(client, documents)

            loaded = asyncio.run(load())
        finally:
            child.stop()
        names = {file_id: name for name, file_id in loaded.file_ids.items()}
        database = place.open()
        embedder = (
            Embedder(EmbeddingsConfig(model="all-MiniLM-L6-v2", base_url=embeddings), {})
            if embeddings
            else None
        )
        index = VectorIndex()

        async def rank() -> list[list[str]]:
            ranked = []
            for item in labelled:
                vector = None
                if embedder is not None:
                    vector = from_vector((await embedder.embed([item["query"]]))[0])
                hits = await search_chunks(
                    database,
                    PROJECT,
                    [loaded.store_id],
                    item["query"],
                    limit=RESULTS_PER_SEARCH,
                    query_vector=vector,
                    index=index,
                )
                ranked.append(list(dict.fromkeys(names[hit.file_id] for hit in hits)))
            if embedder is not None:
                await embedder.close()
            return ranked

        try:
            ranked = asyncio.run(rank())
        finally:
            database.close()
    relevant = [item["relevant"] for item in labelled]
    kinds = sorted({item["kind"] for item in labelled})
    by_kind = {
        kind: _score(
            [r for r, item in zip(ranked, labelled, strict=True) if item["kind"] == kind],
            [w for w, item in zip(relevant, labelled, strict=True) if item["kind"] == kind],
        )
        for kind in kinds
    }
    misses = [
        f"{item['query']} → {', '.join(files[:3]) or 'nothing'}"
        for files, item in zip(ranked, labelled, strict=True)
        if not set(files[:5]) & set(item["relevant"])
    ]
    return QualityReport(backend, mode, len(documents), _score(ranked, relevant), by_kind, misses)


# -- the report ------------------------------------------------------------------------------


def machine() -> str:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    postgres = "?"
    with (
        contextlib.suppress(psycopg.Error),
        psycopg.connect(POSTGRES_ADMIN, connect_timeout=3) as conn,
    ):
        row = conn.execute("SHOW server_version").fetchone()
        postgres = str(row[0]).split()[0] if row else "?"
    return (
        f"{cpu}, {len(os.sched_getaffinity(0))} cores, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}, PostgreSQL {postgres}"
    )


def show_sizes(sizes: list[SizeReport]) -> None:
    table = Table(title="Ingestion through the HTTP API, and search latency")
    table.add_column("measure")
    for report in sizes:
        table.add_column(f"{NAMES[report.backend]}\n{report.chunks:,} chunks", justify="right")
    rows: list[tuple[str, list[str]]] = [
        ("files", [f"{r.files:,}" for r in sizes]),
        ("text, MB", [f"{r.megabytes:,.1f}" for r in sizes]),
        ("chunks stored", [f"{r.chunks_stored:,}" for r in sizes]),
        ("upload, s", [f"{r.upload_s:,.1f}" for r in sizes]),
        ("upload, MB/s", [f"{r.upload_mb_s:,.2f}" for r in sizes]),
        ("indexing (store created → completed), s", [f"{r.index_s:,.1f}" for r in sizes]),
        ("indexing, MB/s", [f"{r.index_mb_s:,.2f}" for r in sizes]),
        ("indexing, chunks/s", [f"{r.index_chunks_s:,.0f}" for r in sizes]),
        ("upload + indexing, MB/s", [f"{r.total_mb_s:,.2f}" for r in sizes]),
        ("upload + indexing, chunks/s", [f"{r.total_chunks_s:,.0f}" for r in sizes]),
    ]
    rows += [
        (f"search_chunks, {kind}, {cut} ms", [f"{r.latency_ms[kind][cut]:,.1f}" for r in sizes])
        for kind in (*QUERY_KINDS, "all")
        for cut in ("p50", "p95")
    ]
    rows += [
        ("rare word: its file first", [f"{r.rare_found_first:.0%}" for r in sizes]),
        (
            "chunks analysed by autovacuum before",
            [{None: "–", True: "yes", False: "no"}[r.autoanalyzed] for r in sizes],
        ),
        ("classic file_search run, first, ms", [f"{r.run_first_ms:,.0f}" for r in sizes]),
        ("classic file_search run, median of 5, ms", [f"{r.run_median_ms:,.0f}" for r in sizes]),
    ]
    for label, values in rows:
        table.add_row(label, *values)
    console.print(table)
    console.print(
        f"[dim]{sizes[0].queries} queries per column, a third of each kind, 20 results each. "
        "No offline alternative product exists to compare with.[/dim]"
    )


def show_quality(quality: list[QualityReport], hybrid_missing: bool) -> None:
    table = Table(title=f"Retrieval quality, {quality[0].documents} documents")
    table.add_column("questions")
    table.add_column("n", justify="right")
    for report in quality:
        for measure in ("R@1", "R@5", "MRR"):
            table.add_column(f"{NAMES[report.backend]}\n{report.mode}\n{measure}", justify="right")
    for name in ("all", *quality[0].by_kind):
        values = []
        for report in quality:
            scores = report.overall if name == "all" else report.by_kind[name]
            values += [
                f"{scores.recall_at_1:.2f}",
                f"{scores.recall_at_5:.2f}",
                f"{scores.mrr:.2f}",
            ]
        count = quality[0].overall if name == "all" else quality[0].by_kind[name]
        table.add_row(name, str(count.queries), *values)
    console.print(table)
    if hybrid_missing:
        console.print(
            f"[dim]Hybrid retrieval not measured: {EMBED_PYTHON} is missing "
            "(`make bench` builds it).[/dim]"
        )
    for report in quality:
        console.print(
            f"[bold]{NAMES[report.backend]}, {report.mode}: no relevant file in the first "
            "five[/bold]"
        )
        for miss in report.misses:
            console.print(f"  {miss}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--chunks-small", type=int, default=1_000)
    parser.add_argument("--chunks-large", type=int, default=100_000)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--queries", type=int, default=200, help="search_chunks calls per size")
    parser.add_argument(
        "--quality-only", action="store_true", help="only the retrieval-quality measurements"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    targets = [t for t in (args.chunks_small, args.chunks_large) if t > 0]
    if args.quality_only:
        targets = []
    sizes: list[SizeReport] = []
    for target in targets:
        started = time.perf_counter()
        corpus = make_corpus(target)
        progress.print(
            f"[dim]corpus of {corpus.chunks:,} chunks ({len(corpus.documents):,} files, "
            f"{corpus.megabytes:,.1f} MB) made in {time.perf_counter() - started:.0f} s[/dim]"
        )
        sizes += [measure_size(backend, corpus, target, args.queries) for backend in backends]
        del corpus
    sizes.sort(key=lambda r: (backends.index(r.backend), r.chunks))
    with embeddings_server() as embeddings:
        quality = [measure_quality(backend) for backend in backends]
        if embeddings is not None:
            quality += [measure_quality(backend, embeddings) for backend in backends]
    host = machine()
    found = {
        "machine": host,
        "sizes": [asdict(r) for r in sizes],
        "quality": [asdict(r) for r in quality],
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "knowledge.json").write_text(json.dumps(found, indent=2))
    if args.json:
        print(json.dumps(found, indent=2))
    else:
        if sizes:
            show_sizes(sizes)
        if quality:
            show_quality(quality, hybrid_missing=not EMBED_PYTHON.exists())
        console.print(f"[dim]{host}[/dim]")


if __name__ == "__main__":
    main()
