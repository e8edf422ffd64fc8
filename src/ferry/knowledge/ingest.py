"""Ingestion: turning files added to vector stores into chunks, exactly once, in any process.

An ingester leases `in_progress` vector-store files (a compare-and-set on the row, so two
processes sharing PostgreSQL never take the same one), extracts the text in a worker thread,
cuts it into chunks by the file's chunking strategy, and writes the chunks and the file's
final status in one transaction that first checks it still holds the lease. A crash at any
point leaves the file `in_progress` with a lease that runs out; whoever takes it next starts
over, and since that transaction also deletes any chunks of the file in that store, nothing
is ever indexed twice. A file that cannot be read fails alone, with its `last_error`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid

from sqlalchemy import Connection, or_, select, text, update

from ferry.clock import Clock, system_clock
from ferry.knowledge.chunking import chunk_text
from ferry.knowledge.chunkstore import drop_chunks, write_chunks
from ferry.knowledge.embeddings import Embedder
from ferry.knowledge.errors import KnowledgeError
from ferry.knowledge.extract import extract_text
from ferry.knowledge.files import FileStore
from ferry.knowledge.vectorstores import FileStatus
from ferry.store import Database
from ferry.store.schema import chunks, files, vector_store_files
from ferry.types import Json

__all__ = ["Ingester"]

log = logging.getLogger(__name__)

ANALYZE_EVERY = 5_000
Chunked = tuple[list[str], list[bytes] | None]
"""A file's chunk texts, and their vectors if an embedder is set."""


class Ingester:
    def __init__(
        self,
        database: Database,
        files: FileStore,
        *,
        clock: Clock = system_clock,
        owner: str | None = None,
        lease_seconds: float = 60.0,
        concurrency: int = 2,
        poll_interval: float = 1.0,
        embedder: Embedder | None = None,
    ) -> None:
        self.database = database
        self.embedder = embedder
        self._unanalyzed = 0
        self.files = files
        self.clock = clock
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.lease_ms = int(lease_seconds * 1000)
        self.concurrency = concurrency
        self.poll_interval = poll_interval
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """Files were added: look for work now rather than at the next poll."""
        self._wakeup.set()

    async def start(self) -> None:
        with contextlib.suppress(Exception):
            swept = await self.files.sweep()
            if swept:
                log.info("removed the parts of %d uploads that were cut short", swept)
        self._task = asyncio.create_task(self._loop(), name="ferry-ingester")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            self._wakeup.clear()
            try:
                claimed = await self.database.write(self._claim)
            except Exception:
                log.exception("cannot claim files to ingest")
                claimed = []
            if claimed:
                await asyncio.gather(*(self._ingest(row) for row in claimed))
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self.poll_interval)

    def _claim(self, conn: Connection) -> list[Json]:
        now = self.clock()
        free = (vector_store_files.c.status == FileStatus.IN_PROGRESS) & or_(
            vector_store_files.c.lease_until.is_(None), vector_store_files.c.lease_until < now
        )
        rows = conn.execute(
            select(vector_store_files)
            .where(free)
            .order_by(vector_store_files.c.seq)
            .limit(self.concurrency)
        ).all()
        claimed: list[Json] = []
        for row in rows:
            taken = conn.execute(
                update(vector_store_files)
                .where(vector_store_files.c.seq == row.seq, free)
                .values(lease_owner=self.owner, lease_until=now + self.lease_ms)
            ).rowcount
            if taken:
                claimed.append(
                    {
                        "seq": row.seq,
                        "project": row.project,
                        "vector_store_id": row.vector_store_id,
                        "file_id": row.file_id,
                        "body": row.body,
                    }
                )
        return claimed

    async def _ingest(self, row: Json) -> None:
        renewer = asyncio.create_task(self._renew(row["seq"]))
        try:
            outcome = await self._read(row)
            await self.database.write(lambda conn: self._finish(conn, row, outcome))
            if not isinstance(outcome, KnowledgeError):
                await self._analyze(len(outcome[0]))
        except Exception:
            log.exception(
                "ingesting %s into %s failed; it will be retried",
                row["file_id"],
                row["vector_store_id"],
            )
        finally:
            renewer.cancel()

    async def _read(self, row: Json) -> Chunked | KnowledgeError:
        """The file's chunks (with their vectors when an embedder is set), or why it has
        none."""
        name = await self.database.read(
            lambda conn: conn.execute(
                select(files.c.filename).where(files.c.id == row["file_id"])
            ).scalar_one_or_none()
        )
        if name is None:
            return KnowledgeError("file_not_found", f"File {row['file_id']} no longer exists.")
        try:
            data = await self.files.read_all(row["file_id"])
            text = await asyncio.to_thread(extract_text, data, name)
        except KnowledgeError as exc:
            return exc
        static = row["body"]["chunking_strategy"]["static"]
        pieces = await asyncio.to_thread(
            chunk_text, text, static["max_chunk_size_tokens"], static["chunk_overlap_tokens"]
        )
        texts = [piece.text for piece in pieces]
        if self.embedder is None:
            return texts, None
        try:
            return texts, await self.embedder.embed(texts)
        except KnowledgeError as exc:
            return exc

    async def _analyze(self, written: int) -> None:
        """On PostgreSQL, refresh the planner's statistics of `chunks` after every
        `ANALYZE_EVERY` chunks written here: until autovacuum gets to a freshly filled table,
        the planner reads every chunk of a store rather than use the full-text index (at
        100k chunks, 764 ms a search instead of 47)."""
        if self.database.name != "postgres":
            return
        self._unanalyzed += written
        if self._unanalyzed < ANALYZE_EVERY:
            return
        self._unanalyzed = 0
        try:
            await self.database.write(lambda conn: conn.execute(text("ANALYZE chunks")))
        except Exception as exc:  # statistics are an optimisation; ingestion goes on
            log.warning("cannot analyze the chunks table: %s", exc)

    def _finish(self, conn: Connection, row: Json, outcome: Chunked | KnowledgeError) -> None:
        """Chunks and status in one transaction, if this ingester still holds the lease."""
        mine = conn.execute(
            select(vector_store_files.c.seq).where(
                vector_store_files.c.seq == row["seq"],
                vector_store_files.c.lease_owner == self.owner,
                vector_store_files.c.status == FileStatus.IN_PROGRESS,
            )
        ).scalar_one_or_none()
        if mine is None:  # cancelled, removed, or taken over after a lapsed lease
            return
        drop_chunks(
            conn,
            chunks.c.vector_store_id == row["vector_store_id"],
            chunks.c.file_id == row["file_id"],
        )
        body = dict(row["body"])
        if isinstance(outcome, KnowledgeError):
            status = FileStatus.FAILED
            body["last_error"] = {"code": outcome.code, "message": outcome.message}
        else:
            texts, vectors = outcome
            status = FileStatus.COMPLETED
            body["last_error"] = None
            body["usage_bytes"] = sum(len(text.encode()) for text in texts)
            write_chunks(conn, row, texts, vectors)
        conn.execute(
            update(vector_store_files)
            .where(vector_store_files.c.seq == row["seq"])
            .values(status=status, body=body, lease_owner=None, lease_until=None)
        )

    async def _renew(self, seq: int) -> None:
        while True:
            await asyncio.sleep(self.lease_ms / 3000)
            with contextlib.suppress(Exception):
                await self.database.write(
                    lambda conn: conn.execute(
                        update(vector_store_files)
                        .where(
                            vector_store_files.c.seq == seq,
                            vector_store_files.c.lease_owner == self.owner,
                        )
                        .values(lease_until=self.clock() + self.lease_ms)
                    )
                )
