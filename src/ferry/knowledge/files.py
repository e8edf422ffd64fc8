"""Files: uploaded by clients, or written by tools, kept in the database in parts.

The bytes go to `file_parts` a few parts per transaction while the upload is read, and the
file's row is inserted last: a file is listed only once all of it is stored, and an upload
cut short (a dropped connection, a crash) leaves parts with no row, which `sweep` removes.
Reading streams the parts back one at a time, so neither direction holds a whole file in
memory, and every process sharing a PostgreSQL database serves every file.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import IO, Any

from sqlalchemy import Connection, delete, func, insert, select

from ferry.clock import Clock, system_clock
from ferry.ids import new_id
from ferry.knowledge.chunkstore import drop_chunks
from ferry.knowledge.errors import KnowledgeNotFound, KnowledgeRefused
from ferry.store import Database
from ferry.store.schema import chunks, file_parts, files, vector_store_files
from ferry.types import Json

__all__ = ["MAX_FILE_BYTES", "PART_SIZE", "PURPOSES", "FileStore", "StoredFile"]

MAX_FILE_BYTES = 512 * 1024 * 1024
"""The hosted service's limit on one file."""

PART_SIZE = 1024 * 1024
_PARTS_PER_WRITE = 4

PURPOSES = frozenset(
    {
        "assistants",
        "assistants_output",
        "agents",
        "agents_output",
        "vision",
        "batch",
        "batch_output",
        "fine-tune",
        "fine-tune-results",
        "user_data",
        "evals",
    }
)
"""What a client may say a file is for; Ferry keeps them all the same way."""


@dataclass(frozen=True)
class StoredFile:
    id: str
    project: str
    purpose: str
    filename: str
    bytes: int
    created_at: int
    """Unix seconds."""

    def view(self) -> Json:
        """The file object both API generations return."""
        return {
            "object": "file",
            "id": self.id,
            "bytes": self.bytes,
            "filename": self.filename,
            "created_at": self.created_at,
            "purpose": self.purpose,
            "status": "processed",
            "status_details": None,
            "expires_at": None,
        }


def _stored(row: Any) -> StoredFile:
    return StoredFile(
        row.id, row.project, row.purpose, row.filename, row.bytes, row.created_at // 1000
    )


def file_row(conn: Connection, project: str, file_id: str) -> StoredFile | None:
    row = conn.execute(
        select(files).where(files.c.project == project, files.c.id == file_id)
    ).one_or_none()
    return None if row is None else _stored(row)


class FileStore:
    def __init__(self, database: Database, clock: Clock = system_clock) -> None:
        self.database = database
        self.clock = clock

    async def create(
        self, project: str, filename: str, purpose: str, source: IO[bytes]
    ) -> StoredFile:
        """Store what `source` holds (read a part at a time) as a new file."""
        if purpose not in PURPOSES:
            raise KnowledgeRefused(
                f"'{purpose[:64]}' is not a valid purpose; use one of: "
                f"{', '.join(sorted(PURPOSES))}.",
                param="purpose",
            )
        name = filename.replace("\\", "/").rsplit("/", 1)[-1][:512] or "upload"
        file_id = new_id("assistant")
        size, number = 0, 0
        while True:
            batch: list[Json] = []
            for _ in range(_PARTS_PER_WRITE):
                data = source.read(PART_SIZE)
                if not data:
                    break
                size += len(data)
                if size > MAX_FILE_BYTES:
                    await self._drop_parts(file_id)
                    raise KnowledgeRefused(
                        f"File is too large: the limit is {MAX_FILE_BYTES // (1024 * 1024)} MB.",
                        param="file",
                    )
                batch.append(
                    {"file_id": file_id, "number": number, "data": data, "written_at": self.clock()}
                )
                number += 1
            if not batch:
                break
            await self.database.write(_inserter(batch))
        stored = StoredFile(file_id, project, purpose, name, size, self.clock() // 1000)
        row = {
            "project": project,
            "id": file_id,
            "purpose": purpose,
            "filename": name,
            "bytes": size,
            "created_at": self.clock(),
            "body": {},
        }
        await self.database.write(lambda conn: conn.execute(insert(files), [row]))
        return stored

    async def _drop_parts(self, file_id: str) -> None:
        await self.database.write(
            lambda conn: conn.execute(delete(file_parts).where(file_parts.c.file_id == file_id))
        )

    async def get(self, project: str, file_id: str) -> StoredFile:
        found = await self.database.read(lambda conn: file_row(conn, project, file_id))
        if found is None:
            raise KnowledgeNotFound(f"No file found with id '{file_id[:64]}'.")
        return found

    async def list_files(
        self, project: str, purpose: str | None, limit: int, order: str, after: str | None
    ) -> tuple[list[StoredFile], bool]:
        def work(conn: Connection) -> tuple[list[StoredFile], bool]:
            query = select(files).where(files.c.project == project)
            if purpose:
                query = query.where(files.c.purpose == purpose)
            if after:
                anchor = select(files.c.seq).where(files.c.project == project, files.c.id == after)
                seq = conn.execute(anchor).scalar_one_or_none()
                if seq is not None:
                    query = query.where(files.c.seq > seq if order == "asc" else files.c.seq < seq)
            ordering = files.c.seq.asc() if order == "asc" else files.c.seq.desc()
            rows = conn.execute(query.order_by(ordering).limit(limit + 1)).all()
            return [_stored(row) for row in rows[:limit]], len(rows) > limit

        return await self.database.read(work)

    async def delete(self, project: str, file_id: str) -> None:
        """The file, its bytes, and its place and chunks in every vector store: a deleted
        file is never found by file_search again."""

        def work(conn: Connection) -> bool:
            gone = conn.execute(
                delete(files).where(files.c.project == project, files.c.id == file_id)
            ).rowcount
            if not gone:
                return False
            conn.execute(delete(file_parts).where(file_parts.c.file_id == file_id))
            drop_chunks(conn, chunks.c.file_id == file_id)
            conn.execute(delete(vector_store_files).where(vector_store_files.c.file_id == file_id))
            return True

        if not await self.database.write(work):
            raise KnowledgeNotFound(f"No file found with id '{file_id[:64]}'.")

    async def content(self, file_id: str) -> AsyncIterator[bytes]:
        """The file's bytes, a part at a time (the caller has checked the file is theirs)."""
        number = 0
        while True:
            data = await self.database.read(_part_reader(file_id, number))
            if data is None:
                return
            yield bytes(data)
            number += 1

    async def read_all(self, file_id: str, limit: int = MAX_FILE_BYTES) -> bytes:
        """The whole file, for parsers that need it at once (extraction); `limit` guards."""
        pieces: list[bytes] = []
        size = 0
        async for piece in self.content(file_id):
            size += len(piece)
            if size > limit:
                raise KnowledgeRefused(f"File {file_id} is larger than {limit} bytes.")
            pieces.append(piece)
        return b"".join(pieces)

    async def sweep(self, older_than_ms: int = 3_600_000) -> int:
        """Remove parts no file row owns (uploads cut short); returns how many files' worth.
        Parts newer than `older_than_ms` may belong to an upload still going on."""

        def work(conn: Connection) -> int:
            orphans = (
                select(file_parts.c.file_id)
                .where(~file_parts.c.file_id.in_(select(files.c.id)))
                .group_by(file_parts.c.file_id)
                .having(func.max(file_parts.c.written_at) < self.clock() - older_than_ms)
            )
            ids = [row[0] for row in conn.execute(orphans)]
            if ids:
                conn.execute(delete(file_parts).where(file_parts.c.file_id.in_(ids)))
            return len(ids)

        return await self.database.write(work)


def _inserter(rows: list[Json]) -> Callable[[Connection], None]:
    def work(conn: Connection) -> None:
        conn.execute(insert(file_parts), rows)

    return work


def _part_reader(file_id: str, number: int) -> Callable[[Connection], bytes | None]:
    def work(conn: Connection) -> bytes | None:
        value = conn.execute(
            select(file_parts.c.data).where(
                file_parts.c.file_id == file_id, file_parts.c.number == number
            )
        ).scalar_one_or_none()
        return None if value is None else bytes(value)

    return work
