"""Files and vector stores on the wire: one set of operations for both API generations.

The classic API has them at the project's root (`/files`, `/vector_stores`); the v2 API's
`openai` client at its OpenAI base (`/openai/v1/files`, …). The shapes are OpenAI's in both,
so the same handlers serve every base. Uploads are read as they arrive
(`ferry.agents.uploads`), spooled to disk past 1 MB, and copied into the database a part at a
time (`ferry.knowledge.files`), so no upload is ever held whole in memory.
"""

from __future__ import annotations

from typing import Any

from pydantic import StrictStr
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from ferry.agents.bodies import Body, Metadata, parse_body
from ferry.agents.errors import BadRequest
from ferry.agents.http import Call, Endpoints
from ferry.agents.http import json_response as _json
from ferry.agents.uploads import read_upload
from ferry.knowledge.files import MAX_FILE_BYTES, FileStore
from ferry.knowledge.vectorstores import VectorStores
from ferry.types import Json

__all__ = ["KnowledgeRoutes"]

_MULTIPART_SLACK = 1024 * 1024
"""Room for the multipart framing and the `purpose` field around the file itself."""


class VectorStoreCreate(Body):
    name: StrictStr | None = None
    file_ids: list[StrictStr] | None = None
    chunking_strategy: Any = None
    expires_after: Any = None
    metadata: Metadata = None
    store_configuration: Any = None
    configuration: Any = None


class VectorStoreModify(Body):
    name: StrictStr | None = None
    expires_after: Any = None
    metadata: Metadata = None


class VectorStoreFileCreate(Body):
    file_id: StrictStr | None = None
    data_source: Any = None
    chunking_strategy: Any = None
    attributes: dict[str, Any] | None = None


class FileBatchCreate(Body):
    file_ids: list[StrictStr] | None = None
    data_sources: Any = None
    chunking_strategy: Any = None
    attributes: dict[str, Any] | None = None


def _page(data: list[Json], more: bool, key: str = "id") -> Json:
    return {
        "object": "list",
        "data": data,
        "first_id": data[0][key] if data else None,
        "last_id": data[-1][key] if data else None,
        "has_more": more,
    }


def _no_data_sources(value: Any, param: str) -> None:
    """Azure data sources (`uri_asset`, `id_asset`) name storage in the cloud."""
    sources = value.get("data_sources") if isinstance(value, dict) else value
    if sources:
        raise BadRequest(
            f"'{param}': Azure data sources are not available offline; upload the files "
            "and pass their file_ids instead.",
            param=param,
        )


class KnowledgeRoutes:
    def __init__(self, files: FileStore, stores: VectorStores, endpoints: Endpoints) -> None:
        self.files = files
        self.stores = stores
        self.endpoints = endpoints

    # Files ---------------------------------------------------------------------------------

    async def upload_file(self, call: Call) -> Response:
        request = call.request
        declared = request.headers.get("content-length")
        if (
            declared is not None
            and declared.isdigit()
            and (int(declared) > MAX_FILE_BYTES + _MULTIPART_SLACK)
        ):
            raise BadRequest(
                f"File is too large: the limit is {MAX_FILE_BYTES // (1024 * 1024)} MB.",
                param="file",
            )
        upload = await read_upload(request, MAX_FILE_BYTES + _MULTIPART_SLACK)
        try:
            purpose = upload.fields.get("purpose")
            if not purpose:
                raise BadRequest("the field 'purpose' is required", param="purpose")
            name = upload.fields.get("filename") or upload.file_name or "upload"
            stored = await self.files.create(call.project, name, purpose, upload.file)
        finally:
            upload.close()
        return _json(stored.view())

    async def list_files(self, call: Call) -> Response:
        paging = call.paging()
        if paging["before"]:
            raise BadRequest("files are paged with 'after' only", param="before")
        found, more = await self.files.list_files(
            call.project,
            call.query("purpose"),
            paging["limit"],
            paging["order"],
            paging["after"],
        )
        return _json(_page([f.view() for f in found], more))

    async def get_file(self, call: Call) -> Response:
        return _json((await self.files.get(call.project, call.id("file_id"))).view())

    async def delete_file(self, call: Call) -> Response:
        file_id = call.id("file_id")
        await self.files.delete(call.project, file_id)
        return _json({"id": file_id, "object": "file", "deleted": True})

    async def file_content(self, call: Call) -> Response:
        stored = await self.files.get(call.project, call.id("file_id"))
        quoted = stored.filename.replace('"', "")
        return StreamingResponse(
            self.files.content(stored.id),
            media_type="application/octet-stream",
            headers={
                "Content-Length": str(stored.bytes),
                "Content-Disposition": f'attachment; filename="{quoted}"',
            },
        )

    # Vector stores -------------------------------------------------------------------------

    async def create_store(self, call: Call) -> Response:
        request = parse_body(VectorStoreCreate, await call.body(), empty_ok=True)
        _no_data_sources(request.store_configuration, "store_configuration")
        _no_data_sources(request.configuration, "configuration")
        view = await self.stores.create(
            call.project,
            name=request.name,
            file_ids=request.file_ids or [],
            chunking_strategy=request.chunking_strategy,
            expires_after=request.expires_after,
            metadata=request.metadata,
        )
        return _json(view)

    async def list_stores(self, call: Call) -> Response:
        p = call.paging()
        data, more = await self.stores.list_stores(
            call.project, p["limit"], p["order"], p["after"], p["before"]
        )
        return _json(_page(data, more))

    async def get_store(self, call: Call) -> Response:
        return _json(await self.stores.get(call.project, call.id("vector_store_id")))

    async def modify_store(self, call: Call) -> Response:
        request = parse_body(VectorStoreModify, await call.body(), empty_ok=True)
        view = await self.stores.modify(
            call.project,
            call.id("vector_store_id"),
            name=request.name,
            expires_after=request.expires_after,
            metadata=request.metadata,
            fields=set(request.model_fields_set),
        )
        return _json(view)

    async def delete_store(self, call: Call) -> Response:
        store_id = call.id("vector_store_id")
        await self.stores.delete(call.project, store_id)
        return _json({"id": store_id, "object": "vector_store.deleted", "deleted": True})

    # Files of a store ----------------------------------------------------------------------

    async def add_file(self, call: Call) -> Response:
        request = parse_body(VectorStoreFileCreate, await call.body())
        _no_data_sources([request.data_source] if request.data_source else [], "data_source")
        if not request.file_id:
            raise BadRequest("'file_id' is required", param="file_id")
        view = await self.stores.add_file(
            call.project,
            call.id("vector_store_id"),
            request.file_id,
            request.chunking_strategy,
            request.attributes,
        )
        return _json(view)

    async def list_store_files(self, call: Call, batch: bool = False) -> Response:
        p = call.paging()
        data, more = await self.stores.list_files(
            call.project,
            call.id("vector_store_id"),
            status=call.query("filter"),
            batch_id=call.id("batch_id") if batch else None,
            limit=p["limit"],
            order=p["order"],
            after=p["after"],
            before=p["before"],
        )
        return _json(_page(data, more))

    async def list_batch_files(self, call: Call) -> Response:
        return await self.list_store_files(call, batch=True)

    async def get_store_file(self, call: Call) -> Response:
        return _json(
            await self.stores.get_file(call.project, call.id("vector_store_id"), call.id("file_id"))
        )

    async def remove_store_file(self, call: Call) -> Response:
        file_id = call.id("file_id")
        await self.stores.remove_file(call.project, call.id("vector_store_id"), file_id)
        return _json({"id": file_id, "object": "vector_store.file.deleted", "deleted": True})

    async def create_batch(self, call: Call) -> Response:
        request = parse_body(FileBatchCreate, await call.body())
        _no_data_sources(request.data_sources, "data_sources")
        view = await self.stores.create_batch(
            call.project,
            call.id("vector_store_id"),
            request.file_ids or [],
            request.chunking_strategy,
            request.attributes,
        )
        return _json(view)

    async def get_batch(self, call: Call) -> Response:
        return _json(
            await self.stores.get_batch(
                call.project, call.id("vector_store_id"), call.id("batch_id")
            )
        )

    async def cancel_batch(self, call: Call) -> Response:
        return _json(
            await self.stores.cancel_batch(
                call.project, call.id("vector_store_id"), call.id("batch_id")
            )
        )

    def operations(self, base: str = "") -> list[Route]:
        e = self.endpoints.wrap
        file = f"{base}/files/{{file_id}}"
        store = f"{base}/vector_stores/{{vector_store_id}}"
        store_file = f"{store}/files/{{file_id}}"
        batch = f"{store}/file_batches/{{batch_id}}"
        return [
            Route(f"{base}/files", e(self.upload_file), methods=["POST"]),
            Route(f"{base}/files", e(self.list_files), methods=["GET"]),
            Route(file, e(self.get_file), methods=["GET"]),
            Route(file, e(self.delete_file), methods=["DELETE"]),
            Route(f"{file}/content", e(self.file_content), methods=["GET"]),
            # Files code_interpreter wrote are the project's files; a container names the
            # session that wrote them, which the content does not depend on.
            Route(
                f"{base}/containers/{{container_id}}/files/{{file_id}}/content",
                e(self.file_content),
                methods=["GET"],
            ),
            Route(f"{base}/vector_stores", e(self.create_store), methods=["POST"]),
            Route(f"{base}/vector_stores", e(self.list_stores), methods=["GET"]),
            Route(store, e(self.get_store), methods=["GET"]),
            Route(store, e(self.modify_store), methods=["POST"]),
            Route(store, e(self.delete_store), methods=["DELETE"]),
            Route(f"{store}/files", e(self.add_file), methods=["POST"]),
            Route(f"{store}/files", e(self.list_store_files), methods=["GET"]),
            Route(store_file, e(self.get_store_file), methods=["GET"]),
            Route(store_file, e(self.remove_store_file), methods=["DELETE"]),
            Route(f"{store}/file_batches", e(self.create_batch), methods=["POST"]),
            Route(batch, e(self.get_batch), methods=["GET"]),
            Route(f"{batch}/cancel", e(self.cancel_batch), methods=["POST"]),
            Route(f"{batch}/files", e(self.list_batch_files), methods=["GET"]),
        ]
