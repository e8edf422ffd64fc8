"""Any service speaking the Azure Queue protocol, through the real `azure-storage-queue` SDK.

This is the one place where the SDK's exceptions (azure-core's, and its aiohttp transport's)
meet Ferry, so it is the one place that maps them: `SDK_ERRORS` names every exception class
azure-core defines (tests/queues/test_endpoint_errors.py fails when a new one appears), and
`sdk_errors()` turns whatever an SDK call raises into a `QueueEndpointError`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

import aiohttp
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    DecodeError,
    DeserializationError,
    HttpResponseError,
    IncompleteReadError,
    ODataV4Error,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
    ResourceNotModifiedError,
    ResponseNotReadError,
    SerializationError,
    ServiceRequestError,
    ServiceRequestTimeoutError,
    ServiceResponseError,
    ServiceResponseTimeoutError,
    StreamClosedError,
    StreamConsumedError,
    TooManyRedirectsError,
)
from azure.storage.queue.aio import QueueServiceClient

from ferry.queues.endpoint import QueueEndpoint, Received
from ferry.queues.errors import (
    EndpointAuthRefused,
    EndpointConflict,
    EndpointNotFound,
    EndpointProtocolError,
    EndpointRefused,
    EndpointUnavailable,
    QueueEndpointError,
    UnreachableQueueService,
    endpoint_refusal,
)

__all__ = ["SDK_ERRORS", "RemoteEndpoint", "mapped_class", "sdk_errors", "to_endpoint_error"]

SDK_ERRORS: Mapping[type[Exception], type[QueueEndpointError]] = {
    # azure.core.exceptions, every class; the most specific one an exception is wins.
    AzureError: EndpointProtocolError,  # none of the below: the client itself failed
    ServiceRequestError: EndpointUnavailable,  # nothing sent: connect, DNS, TLS
    ServiceRequestTimeoutError: EndpointUnavailable,
    ServiceResponseError: EndpointUnavailable,  # sent, no answer: reset, timed out
    ServiceResponseTimeoutError: EndpointUnavailable,
    IncompleteReadError: EndpointUnavailable,  # the connection broke mid-body
    HttpResponseError: EndpointRefused,  # any status: refined by `endpoint_refusal`
    ODataV4Error: EndpointRefused,
    ResourceModifiedError: EndpointRefused,  # 412
    ResourceNotModifiedError: EndpointRefused,  # 304
    ClientAuthenticationError: EndpointAuthRefused,  # 401/403, or no token (azure-identity)
    ResourceNotFoundError: EndpointNotFound,
    ResourceExistsError: EndpointConflict,
    DecodeError: EndpointProtocolError,  # a body that cannot be deserialized
    TooManyRedirectsError: EndpointProtocolError,
    StreamConsumedError: EndpointProtocolError,
    StreamClosedError: EndpointProtocolError,
    ResponseNotReadError: EndpointProtocolError,
    SerializationError: EndpointProtocolError,  # a ValueError, not an AzureError
    DeserializationError: EndpointProtocolError,  # likewise
    # The transport under azure-core, should one get past its wrapping.
    aiohttp.ClientError: EndpointUnavailable,  # connect, DNS, TLS, reset, payload cut off
    aiohttp.ClientResponseError: EndpointProtocolError,  # an answer aiohttp itself refused
    aiohttp.InvalidURL: UnreachableQueueService,
    aiohttp.NonHttpUrlClientError: UnreachableQueueService,
    OSError: EndpointUnavailable,
    TimeoutError: EndpointUnavailable,  # asyncio.TimeoutError is TimeoutError
}
"""Foreign exception class → the QueueEndpointError it becomes (httpx's mapping of httpcore's
exceptions is the model)."""

_MAPPED = tuple(SDK_ERRORS)


def mapped_class(kind: type[BaseException]) -> type[QueueEndpointError] | None:
    """The entry of the most specific class of `kind` in `SDK_ERRORS` (None: not mapped)."""
    return next((SDK_ERRORS[cls] for cls in kind.__mro__ if cls in SDK_ERRORS), None)


def to_endpoint_error(exc: BaseException) -> QueueEndpointError:
    """The family member for an exception an SDK call raised (`mapped_class`); a refusal
    with a status goes by the status, as in `ferry.queues.client`."""
    kind = mapped_class(type(exc)) or EndpointProtocolError
    lines = str(exc).strip().splitlines()  # the SDK adds RequestId, Time, the whole body
    message = lines[0] if lines else type(exc).__name__
    status = getattr(exc, "status_code", None)
    status = status if isinstance(status, int) else None
    code = getattr(exc, "error_code", None)
    code = code if isinstance(code, str) else None
    if kind is EndpointRefused and status is not None:
        return endpoint_refusal(status, code, message)
    return kind(message, status=status, code=code)


@contextlib.contextmanager
def sdk_errors() -> Iterator[None]:
    """Raise whatever `SDK_ERRORS` maps as the QueueEndpointError it maps to (chained)."""
    try:
        yield
    except _MAPPED as exc:
        raise to_endpoint_error(exc) from exc


def _received(message: Any) -> Received:
    return Received(
        id=message.id,
        pop_receipt=message.pop_receipt,
        dequeue_count=message.dequeue_count,
        inserted_at=message.inserted_on,
        expires_at=message.expires_on,
        next_visible_at=message.next_visible_on,
        text=message.content,
    )


class RemoteEndpoint(QueueEndpoint):
    """The SDK's message policies stay off: the host encodes and decodes bodies itself, per
    host.json `messageEncoding`, exactly as the stored text."""

    def __init__(self, client: QueueServiceClient) -> None:
        self.client = client
        self.name = client.url

    @classmethod
    def from_connection_string(cls, connection_string: str) -> RemoteEndpoint:
        try:
            return cls(QueueServiceClient.from_connection_string(connection_string))
        except ValueError as exc:  # the SDK's word for a string it cannot use
            raise UnreachableQueueService(f"unusable connection string: {exc}") from None

    @classmethod
    def from_url(cls, url: str, credential: Any) -> RemoteEndpoint:
        try:
            return cls(QueueServiceClient(url, credential=credential))
        except ValueError as exc:
            raise UnreachableQueueService(f"unusable queue service URL {url!r}: {exc}") from None

    async def receive(self, queue: str, count: int, visibility_timeout: int) -> list[Received]:
        with sdk_errors():
            client = self.client.get_queue_client(queue)
            try:
                pages = client.receive_messages(
                    messages_per_page=count,
                    max_messages=count,
                    visibility_timeout=visibility_timeout,
                )
                return [_received(m) async for m in pages]
            except ResourceNotFoundError:
                return []

    async def delete(self, queue: str, message: Received) -> None:
        with sdk_errors(), contextlib.suppress(ResourceNotFoundError):
            await self.client.get_queue_client(queue).delete_message(
                message.id, message.pop_receipt
            )

    async def hide(self, queue: str, message: Received, seconds: int) -> Received | None:
        with sdk_errors():
            try:
                updated = await self.client.get_queue_client(queue).update_message(
                    message.id, message.pop_receipt, visibility_timeout=seconds
                )
            except ResourceNotFoundError:
                return None
        return Received(
            id=message.id,
            pop_receipt=updated.pop_receipt or message.pop_receipt,
            dequeue_count=message.dequeue_count,
            inserted_at=message.inserted_at,
            expires_at=message.expires_at,
            next_visible_at=updated.next_visible_on or message.next_visible_at,
            text=message.text,
        )

    async def put(self, queue: str, text: str) -> None:
        with sdk_errors():
            client = self.client.get_queue_client(queue)
            try:
                await client.send_message(text)
            except ResourceNotFoundError:
                with contextlib.suppress(ResourceExistsError):
                    await client.create_queue()
                await client.send_message(text)

    async def ensure(self, queue: str) -> None:
        with sdk_errors(), contextlib.suppress(ResourceExistsError):
            await self.client.get_queue_client(queue).create_queue()

    async def close(self) -> None:
        with sdk_errors():
            await self.client.close()
