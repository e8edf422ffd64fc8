"""Queue-level operations: create, delete, metadata and stored access policies."""

from __future__ import annotations

from starlette.responses import Response

from ferry.queues import bodies
from ferry.queues.call import Call
from ferry.queues.names import metadata_from_headers
from ferry.queues.wire import empty, xml

__all__ = ["create", "delete", "get_acl", "get_metadata", "set_acl", "set_metadata"]


async def create(call: Call) -> Response:
    metadata = metadata_from_headers(call.headers.items())
    created = await call.store.create_queue(call.account, call.queue_name, metadata)
    return empty(201 if created else 204)


async def delete(call: Call) -> Response:
    await call.store.delete_queue(call.account, call.queue_name)
    return empty(204)


async def get_metadata(call: Call) -> Response:
    info = await call.store.get_queue(call.account, call.queue_name)
    headers = {f"x-ms-meta-{name}": value for name, value in info.metadata.items()}
    headers["x-ms-approximate-messages-count"] = str(info.approximate_message_count)
    return empty(200, headers)


async def set_metadata(call: Call) -> Response:
    metadata = metadata_from_headers(call.headers.items())
    await call.store.set_metadata(call.account, call.queue_name, metadata)
    return empty(204)


async def get_acl(call: Call) -> Response:
    policies = await call.store.get_access_policies(call.account, call.queue_name)
    return xml(bodies.render_signed_identifiers(policies))


async def set_acl(call: Call) -> Response:
    policies = bodies.parse_signed_identifiers(call.body)
    await call.store.set_access_policies(call.account, call.queue_name, policies)
    return empty(204)
