"""Vector stores, the files in them and file batches: their records and wire objects.

A vector store is a named set of files whose text is cut into chunks for file_search. Adding a
file records it `in_progress`; an ingester (`ferry.knowledge.ingest`) makes its chunks and
marks it `completed` or `failed` in one transaction. A store's and a batch's status and
`file_counts` are counted from their files whenever they are read, so they can never disagree
with them. Everything is scoped to a project: another project's ids are simply not found.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from ferry.clock import Clock, system_clock
from ferry.ids import new_id
from ferry.knowledge.chunking import parse_strategy
from ferry.knowledge.chunkstore import drop_chunks
from ferry.knowledge.errors import KnowledgeNotFound, KnowledgeRefused
from ferry.knowledge.files import file_row
from ferry.store import Database
from ferry.store.schema import (
    chunks,
    files,
    vector_store_batches,
    vector_store_files,
    vector_stores,
)
from ferry.types import Json

__all__ = ["FileStatus", "VectorStores"]

_DAY = 86_400


class FileStatus:
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    ALL = ("in_progress", "completed", "failed", "cancelled")


def _strategy(value: Any, param: str) -> Json:
    try:
        return parse_strategy(value)
    except ValueError as exc:
        raise KnowledgeRefused(str(exc), param=param) from None


def _expiry(value: Any) -> Json | None:
    if value is None:
        return None
    if (
        not isinstance(value, dict)
        or value.get("anchor") != "last_active_at"
        or not isinstance(value.get("days"), int)
        or isinstance(value.get("days"), bool)
        or not 1 <= value["days"] <= 365
    ):
        raise KnowledgeRefused(
            "'expires_after' must be {'anchor': 'last_active_at', 'days': 1 to 365}",
            param="expires_after",
        )
    return {"anchor": "last_active_at", "days": value["days"]}


def _expires_at(body: Json) -> int | None:
    """When a store expires (Unix seconds), counted from its last activity; None if never."""
    if not body.get("expires_after"):
        return None
    return int(body["last_active_at"] + body["expires_after"]["days"] * _DAY)


def _counts(conn: Connection, where: Any) -> Json:
    rows = conn.execute(
        select(vector_store_files.c.status, func.count())
        .where(where)
        .group_by(vector_store_files.c.status)
    ).all()
    counts = {status: 0 for status in FileStatus.ALL}
    for status, number in rows:
        counts[status] = int(number)
    counts["total"] = sum(counts.values())
    return counts


def _usage(conn: Connection, vector_store_id: str) -> int:
    rows = conn.execute(
        select(vector_store_files.c.body).where(
            vector_store_files.c.vector_store_id == vector_store_id,
            vector_store_files.c.status == FileStatus.COMPLETED,
        )
    )
    return sum(int(body.get("usage_bytes") or 0) for (body,) in rows)


class VectorStores:
    def __init__(
        self, database: Database, clock: Clock = system_clock, wake: Any = lambda: None
    ) -> None:
        self.database = database
        self.clock = clock
        self.wake = wake
        """Tells this process's ingester that files wait."""

    def now(self) -> int:
        return self.clock() // 1000

    # Views ---------------------------------------------------------------------------------

    def _expired(self, body: Json) -> bool:
        expires_at = _expires_at(body)
        return expires_at is not None and expires_at <= self.now()

    def _store_view(self, conn: Connection, row: Any) -> Json:
        body = row.body
        counts = _counts(conn, vector_store_files.c.vector_store_id == row.id)
        expires_at = _expires_at(body)
        status = "completed"
        if self._expired(body):
            status = "expired"
        elif counts["in_progress"]:
            status = "in_progress"
        return {
            "id": row.id,
            "object": "vector_store",
            "created_at": body["created_at"],
            "name": body.get("name"),
            "usage_bytes": _usage(conn, row.id),
            "file_counts": counts,
            "status": status,
            "expires_after": body.get("expires_after"),
            "expires_at": expires_at,
            "last_active_at": body["last_active_at"],
            "metadata": body.get("metadata") or {},
        }

    @staticmethod
    def _file_view(row: Any) -> Json:
        body = row.body
        return {
            "id": row.file_id,
            "object": "vector_store.file",
            "usage_bytes": body.get("usage_bytes") or 0,
            "created_at": body["created_at"],
            "vector_store_id": row.vector_store_id,
            "status": row.status,
            "last_error": body.get("last_error"),
            "chunking_strategy": body["chunking_strategy"],
            "attributes": body.get("attributes") or {},
        }

    def _batch_view(self, conn: Connection, row: Any) -> Json:
        counts = _counts(conn, vector_store_files.c.batch_id == row.id)
        if row.body.get("cancelled") and not counts["in_progress"]:
            status = "cancelled"
        elif row.body.get("cancelled"):
            status = "cancelling"
        elif counts["in_progress"]:
            status = "in_progress"
        elif counts["total"] and counts["failed"] == counts["total"]:
            status = "failed"
        else:
            status = "completed"
        return {
            "id": row.id,
            "object": "vector_store.file_batch",
            "created_at": row.body["created_at"],
            "vector_store_id": row.vector_store_id,
            "status": status,
            "file_counts": counts,
        }

    # Lookups -------------------------------------------------------------------------------

    @staticmethod
    def _store_row(
        conn: Connection, project: str, vector_store_id: str, *, lock: bool = False
    ) -> Any:
        query = select(vector_stores).where(
            vector_stores.c.project == project, vector_stores.c.id == vector_store_id
        )
        if lock and conn.dialect.name == "postgresql":
            query = query.with_for_update()
        row = conn.execute(query).one_or_none()
        if row is None:
            raise KnowledgeNotFound(f"No vector store found with id '{vector_store_id[:64]}'.")
        return row

    @staticmethod
    def _check_files(conn: Connection, project: str, file_ids: Sequence[str]) -> None:
        for file_id in file_ids:
            if file_row(conn, project, file_id) is None:
                raise KnowledgeNotFound(f"No file found with id '{file_id[:64]}'.")

    def _add_files(
        self,
        conn: Connection,
        project: str,
        vector_store_id: str,
        file_ids: Sequence[str],
        strategy: Json,
        *,
        batch_id: str | None = None,
        attributes: Json | None = None,
    ) -> None:
        """Files not yet in the store, in progress; those already in it are left as they are
        (adding a file twice indexes it once)."""
        present = set(
            conn.execute(
                select(vector_store_files.c.file_id).where(
                    vector_store_files.c.vector_store_id == vector_store_id,
                    vector_store_files.c.file_id.in_(list(file_ids)),
                )
            ).scalars()
        )
        rows = [
            {
                "project": project,
                "vector_store_id": vector_store_id,
                "file_id": file_id,
                "batch_id": batch_id,
                "status": FileStatus.IN_PROGRESS,
                "body": {
                    "created_at": self.now(),
                    "chunking_strategy": strategy,
                    "attributes": attributes or {},
                },
            }
            for file_id in dict.fromkeys(file_ids)
            if file_id not in present
        ]
        if rows:
            conn.execute(insert(vector_store_files), rows)

    # Within another part's transaction (a thread's attachments) -----------------------------

    def create_within(
        self, conn: Connection, project: str, *, name: str, file_ids: Sequence[str]
    ) -> str:
        """A new store holding `file_ids` (checked); its id. The caller wakes the ingester
        after its commit."""
        self._check_files(conn, project, file_ids)
        store_id = new_id("vs")
        now = self.now()
        body = {"created_at": now, "name": name, "expires_after": None, "last_active_at": now}
        conn.execute(insert(vector_stores), [{"project": project, "id": store_id, "body": body}])
        self._add_files(conn, project, store_id, file_ids, _strategy(None, "chunking_strategy"))
        return store_id

    def add_within(
        self, conn: Connection, project: str, vector_store_id: str, file_ids: Sequence[str]
    ) -> None:
        self._check_files(conn, project, file_ids)
        self._add_files(
            conn, project, vector_store_id, file_ids, _strategy(None, "chunking_strategy")
        )

    @classmethod
    def check_within(cls, conn: Connection, project: str, vector_store_ids: Sequence[str]) -> None:
        """Each store exists in the project (`KnowledgeNotFound` otherwise)."""
        for vector_store_id in vector_store_ids:
            cls._store_row(conn, project, vector_store_id)

    @classmethod
    def check_tools(cls, conn: Connection, project: str, tools: Sequence[Json]) -> None:
        """The stores `file_search` tools name (v2 writes them on the tool) exist."""
        for tool in tools:
            if tool.get("type") == "file_search":
                cls.check_within(conn, project, tool.get("vector_store_ids") or [])

    # Vector stores -------------------------------------------------------------------------

    async def create(
        self,
        project: str,
        *,
        name: str | None,
        file_ids: Sequence[str],
        chunking_strategy: Any,
        expires_after: Any,
        metadata: dict[str, str] | None,
    ) -> Json:
        strategy = _strategy(chunking_strategy, "chunking_strategy")
        expiry = _expiry(expires_after)
        store_id = new_id("vs")
        now = self.now()
        body = {
            "created_at": now,
            "name": name,
            "expires_after": expiry,
            "last_active_at": now,
            "metadata": metadata or {},
        }

        def work(conn: Connection) -> Json:
            self._check_files(conn, project, file_ids)
            conn.execute(
                insert(vector_stores), [{"project": project, "id": store_id, "body": body}]
            )
            self._add_files(conn, project, store_id, file_ids, strategy)
            return self._store_view(conn, self._store_row(conn, project, store_id))

        view = await self.database.write(work)
        if file_ids:
            self.wake()
        return view

    async def get(self, project: str, vector_store_id: str) -> Json:
        return await self.database.read(
            lambda conn: self._store_view(conn, self._store_row(conn, project, vector_store_id))
        )

    async def list_stores(
        self, project: str, limit: int, order: str, after: str | None, before: str | None
    ) -> tuple[list[Json], bool]:
        def work(conn: Connection) -> tuple[list[Json], bool]:
            rows, more = _page(
                conn,
                vector_stores,
                vector_stores.c.project == project,
                vector_stores.c.id,
                limit,
                order,
                after,
                before,
            )
            return [self._store_view(conn, row) for row in rows], more

        return await self.database.read(work)

    async def modify(
        self,
        project: str,
        vector_store_id: str,
        *,
        name: str | None,
        expires_after: Any,
        metadata: dict[str, str] | None,
        fields: set[str],
    ) -> Json:
        """`fields`: which of the three the request set (an explicit null clears expiry)."""
        expiry = _expiry(expires_after)

        def work(conn: Connection) -> Json:
            row = self._store_row(conn, project, vector_store_id, lock=True)
            body = dict(row.body)
            if "name" in fields:
                body["name"] = name
            if "expires_after" in fields:
                body["expires_after"] = expiry
                body["last_active_at"] = self.now()
            if "metadata" in fields:
                body["metadata"] = metadata or {}
            conn.execute(
                update(vector_stores).where(vector_stores.c.id == row.id).values(body=body)
            )
            return self._store_view(conn, self._store_row(conn, project, vector_store_id))

        return await self.database.write(work)

    async def delete(self, project: str, vector_store_id: str) -> None:
        def work(conn: Connection) -> None:
            row = self._store_row(conn, project, vector_store_id)
            drop_chunks(conn, chunks.c.vector_store_id == row.id)
            conn.execute(
                delete(vector_store_files).where(vector_store_files.c.vector_store_id == row.id)
            )
            conn.execute(
                delete(vector_store_batches).where(vector_store_batches.c.vector_store_id == row.id)
            )
            conn.execute(delete(vector_stores).where(vector_stores.c.id == row.id))

        await self.database.write(work)

    async def touch(self, project: str, vector_store_ids: Sequence[str]) -> None:
        """A search used these stores: their expiry counts from now."""

        def work(conn: Connection) -> None:
            for vector_store_id in vector_store_ids:
                row = conn.execute(
                    select(vector_stores).where(
                        vector_stores.c.project == project, vector_stores.c.id == vector_store_id
                    )
                ).one_or_none()
                if row is not None and row.body.get("expires_after"):
                    body = {**row.body, "last_active_at": self.now()}
                    conn.execute(
                        update(vector_stores).where(vector_stores.c.id == row.id).values(body=body)
                    )

        await self.database.write(work)

    # Files in a store ----------------------------------------------------------------------

    def _vs_file(self, conn: Connection, vector_store_id: str, file_id: str) -> Any:
        row = conn.execute(
            select(vector_store_files).where(
                vector_store_files.c.vector_store_id == vector_store_id,
                vector_store_files.c.file_id == file_id,
            )
        ).one_or_none()
        if row is None:
            raise KnowledgeNotFound(
                f"No file with id '{file_id[:64]}' in vector store '{vector_store_id[:64]}'."
            )
        return row

    async def add_file(
        self,
        project: str,
        vector_store_id: str,
        file_id: str,
        chunking_strategy: Any,
        attributes: Json | None = None,
    ) -> Json:
        strategy = _strategy(chunking_strategy, "chunking_strategy")

        def work(conn: Connection) -> Json:
            store = self._store_row(conn, project, vector_store_id)
            self._check_files(conn, project, [file_id])
            self._add_files(conn, project, store.id, [file_id], strategy, attributes=attributes)
            return self._file_view(self._vs_file(conn, store.id, file_id))

        view = await self.database.write(work)
        self.wake()
        return view

    async def get_file(self, project: str, vector_store_id: str, file_id: str) -> Json:
        def work(conn: Connection) -> Json:
            store = self._store_row(conn, project, vector_store_id)
            return self._file_view(self._vs_file(conn, store.id, file_id))

        return await self.database.read(work)

    async def list_files(
        self,
        project: str,
        vector_store_id: str,
        *,
        status: str | None,
        batch_id: str | None,
        limit: int,
        order: str,
        after: str | None,
        before: str | None,
    ) -> tuple[list[Json], bool]:
        if status is not None and status not in FileStatus.ALL:
            raise KnowledgeRefused(
                f"'filter' must be one of {', '.join(FileStatus.ALL)}", param="filter"
            )

        def work(conn: Connection) -> tuple[list[Json], bool]:
            store = self._store_row(conn, project, vector_store_id)
            where = vector_store_files.c.vector_store_id == store.id
            if batch_id is not None:
                batch = self._batch_row(conn, project, store.id, batch_id)
                where = where & (vector_store_files.c.batch_id == batch.id)
            if status is not None:
                where = where & (vector_store_files.c.status == status)
            rows, more = _page(
                conn,
                vector_store_files,
                where,
                vector_store_files.c.file_id,
                limit,
                order,
                after,
                before,
            )
            return [self._file_view(row) for row in rows], more

        return await self.database.read(work)

    async def remove_file(self, project: str, vector_store_id: str, file_id: str) -> None:
        def work(conn: Connection) -> None:
            store = self._store_row(conn, project, vector_store_id)
            row = self._vs_file(conn, store.id, file_id)
            drop_chunks(conn, chunks.c.vector_store_id == store.id, chunks.c.file_id == file_id)
            conn.execute(delete(vector_store_files).where(vector_store_files.c.seq == row.seq))

        await self.database.write(work)

    # Batches -------------------------------------------------------------------------------

    @staticmethod
    def _batch_row(conn: Connection, project: str, vector_store_id: str, batch_id: str) -> Any:
        row = conn.execute(
            select(vector_store_batches).where(
                vector_store_batches.c.project == project,
                vector_store_batches.c.vector_store_id == vector_store_id,
                vector_store_batches.c.id == batch_id,
            )
        ).one_or_none()
        if row is None:
            raise KnowledgeNotFound(f"No file batch found with id '{batch_id[:64]}'.")
        return row

    async def create_batch(
        self,
        project: str,
        vector_store_id: str,
        file_ids: Sequence[str],
        chunking_strategy: Any,
        attributes: Json | None = None,
    ) -> Json:
        if not file_ids:
            raise KnowledgeRefused("'file_ids' must name at least one file", param="file_ids")
        strategy = _strategy(chunking_strategy, "chunking_strategy")
        batch_id = new_id("vsfb")

        def work(conn: Connection) -> Json:
            store = self._store_row(conn, project, vector_store_id)
            self._check_files(conn, project, file_ids)
            conn.execute(
                insert(vector_store_batches),
                [
                    {
                        "project": project,
                        "id": batch_id,
                        "vector_store_id": store.id,
                        "body": {"created_at": self.now()},
                    }
                ],
            )
            self._add_files(
                conn,
                project,
                store.id,
                file_ids,
                strategy,
                batch_id=batch_id,
                attributes=attributes,
            )
            return self._batch_view(conn, self._batch_row(conn, project, store.id, batch_id))

        view = await self.database.write(work)
        self.wake()
        return view

    async def get_batch(self, project: str, vector_store_id: str, batch_id: str) -> Json:
        def work(conn: Connection) -> Json:
            store = self._store_row(conn, project, vector_store_id)
            return self._batch_view(conn, self._batch_row(conn, project, store.id, batch_id))

        return await self.database.read(work)

    async def cancel_batch(self, project: str, vector_store_id: str, batch_id: str) -> Json:
        """Files of the batch not yet ingested are cancelled; those done stay done."""

        def work(conn: Connection) -> Json:
            store = self._store_row(conn, project, vector_store_id)
            row = self._batch_row(conn, project, store.id, batch_id)
            conn.execute(
                update(vector_store_files)
                .where(
                    vector_store_files.c.batch_id == row.id,
                    vector_store_files.c.status == FileStatus.IN_PROGRESS,
                )
                .values(status=FileStatus.CANCELLED, lease_owner=None, lease_until=None)
            )
            conn.execute(
                update(vector_store_batches)
                .where(vector_store_batches.c.id == row.id)
                .values(body={**row.body, "cancelled": True})
            )
            return self._batch_view(conn, self._batch_row(conn, project, store.id, batch_id))

        return await self.database.write(work)

    # For file_search -----------------------------------------------------------------------

    async def usable(self, project: str, vector_store_ids: Sequence[str]) -> list[str]:
        """Those of `vector_store_ids` the project has and that have not expired."""

        def work(conn: Connection) -> list[str]:
            rows = conn.execute(
                select(vector_stores).where(
                    vector_stores.c.project == project,
                    vector_stores.c.id.in_(list(vector_store_ids)),
                )
            ).all()
            return [row.id for row in rows if not self._expired(row.body)]

        return await self.database.read(work)

    async def ingesting(self, vector_store_ids: Sequence[str]) -> int:
        """How many files of these stores are still being ingested."""
        return await self.database.read(
            lambda conn: int(
                conn.execute(
                    select(func.count()).where(
                        vector_store_files.c.vector_store_id.in_(list(vector_store_ids)),
                        vector_store_files.c.status == FileStatus.IN_PROGRESS,
                    )
                ).scalar_one()
            )
        )

    async def filename(self, file_id: str) -> str | None:
        return await self.database.read(
            lambda conn: conn.execute(
                select(files.c.filename).where(files.c.id == file_id)
            ).scalar_one_or_none()
        )


def _page(
    conn: Connection,
    table: Any,
    where: Any,
    key: Any,
    limit: int,
    order: str,
    after: str | None,
    before: str | None,
) -> tuple[list[Any], bool]:
    """One page of `table`'s rows in `seq` order; `after`/`before` name a row by `key`."""
    query = select(table).where(where)
    for anchor, forward in ((after, True), (before, False)):
        if anchor:
            seq = conn.execute(select(table.c.seq).where(where, key == anchor)).scalar_one_or_none()
            if seq is not None:
                ascending = (order == "asc") == forward
                query = query.where(table.c.seq > seq if ascending else table.c.seq < seq)
    ordering = table.c.seq.asc() if order == "asc" else table.c.seq.desc()
    rows = conn.execute(query.order_by(ordering).limit(limit + 1)).all()
    return list(rows[:limit]), len(rows) > limit
