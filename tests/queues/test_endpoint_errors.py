"""Every exception a queue endpoint can meet becomes a QueueEndpointError at its boundary.

`SDK_ERRORS` must name every exception class azure-core defines, so that an SDK upgrade that
adds one fails here until someone decides what it means; the SDK's, azure-identity's and the
transport's exceptions must all resolve to a member of the family.
"""

from __future__ import annotations

import asyncio
import inspect
import types
from collections.abc import Callable

import aiohttp
import azure.core.exceptions
import azure.storage.queue
import azure.storage.queue.aio
import httpx
import pytest
from azure.core.credentials import AzureNamedKeyCredential
from azure.storage.queue.aio import QueueServiceClient

from ferry.errors import FerryError
from ferry.queues.auth import DEV_ACCOUNT, DEV_KEY
from ferry.queues.client import QueueClient
from ferry.queues.connection import QueueConnection
from ferry.queues.endpoints.local import store_errors
from ferry.queues.endpoints.remote import SDK_ERRORS, RemoteEndpoint, mapped_class
from ferry.queues.errors import (
    EndpointAuthRefused,
    EndpointConflict,
    EndpointNotFound,
    EndpointProtocolError,
    EndpointRefused,
    EndpointUnavailable,
    QueueEndpointError,
    QueueNotFound,
    UnreachableQueueService,
)
from ferry.spawn import Child
from ferry.store.errors import StoreError, StoreUnavailable
from tests.conftest import free_ports


def _exceptions(*modules: types.ModuleType) -> list[type[BaseException]]:
    found = {
        member
        for module in modules
        for _name, member in inspect.getmembers(module, inspect.isclass)
        if issubclass(member, Exception) and not issubclass(member, Warning)
    }
    return sorted(found, key=lambda cls: f"{cls.__module__}.{cls.__qualname__}")


AZURE_CORE = _exceptions(azure.core.exceptions)
STORAGE = _exceptions(azure.storage.queue, azure.storage.queue.aio)
TRANSPORT = [
    cls
    for cls in _exceptions(aiohttp)
    if issubclass(cls, (aiohttp.ClientError, OSError))  # what a client call can raise
] + [OSError, ConnectionRefusedError, asyncio.TimeoutError, TimeoutError]
try:  # what DefaultAzureCredential raises when the endpoint uses Azure identity
    import azure.identity

    IDENTITY = _exceptions(azure.identity)
except ImportError:
    IDENTITY = []


def test_azure_core_still_defines_the_usual_exceptions() -> None:
    names = {cls.__name__ for cls in AZURE_CORE}
    assert {"AzureError", "HttpResponseError", "ServiceRequestError"} <= names


@pytest.mark.parametrize("kind", AZURE_CORE, ids=lambda cls: cls.__name__)
def test_every_azure_core_exception_has_its_own_entry(kind: type[BaseException]) -> None:
    assert kind in SDK_ERRORS, f"decide what {kind.__name__} means and add it to SDK_ERRORS"
    assert issubclass(SDK_ERRORS[kind], QueueEndpointError)
    assert issubclass(SDK_ERRORS[kind], FerryError)


@pytest.mark.parametrize(
    "kind",
    STORAGE + TRANSPORT + IDENTITY,
    ids=lambda cls: f"{cls.__module__}.{cls.__name__}",
)
def test_every_exception_of_the_sdk_and_its_transport_is_mapped(
    kind: type[BaseException],
) -> None:
    mapped = mapped_class(kind)
    assert mapped is not None and issubclass(mapped, QueueEndpointError), kind


def test_the_usual_failures_mean_what_they_say() -> None:
    assert mapped_class(azure.core.exceptions.ServiceRequestError) is EndpointUnavailable
    assert mapped_class(azure.core.exceptions.ServiceResponseTimeoutError) is EndpointUnavailable
    assert mapped_class(azure.core.exceptions.ClientAuthenticationError) is EndpointAuthRefused
    assert mapped_class(azure.core.exceptions.ResourceNotFoundError) is EndpointNotFound
    assert mapped_class(azure.core.exceptions.ResourceExistsError) is EndpointConflict
    assert mapped_class(azure.core.exceptions.DecodeError) is EndpointProtocolError
    assert mapped_class(aiohttp.ClientConnectorError) is EndpointUnavailable
    assert mapped_class(ConnectionResetError) is EndpointUnavailable
    assert mapped_class(ValueError) is None  # a bug stays a bug


# -- the remote endpoint, for real ----------------------------------------------------------


def _remote(url: str, key: str = DEV_KEY) -> RemoteEndpoint:
    credential = AzureNamedKeyCredential(DEV_ACCOUNT, key)
    return RemoteEndpoint(QueueServiceClient(url, credential=credential, retry_total=0))


async def test_a_service_that_is_not_there_is_unavailable() -> None:
    (port,) = free_ports(1)
    endpoint = _remote(f"http://127.0.0.1:{port}/{DEV_ACCOUNT}")
    try:
        with pytest.raises(EndpointUnavailable) as caught:
            await endpoint.receive("nobody", 1, 30)
    finally:
        await endpoint.close()
    assert isinstance(caught.value.__cause__, azure.core.exceptions.ServiceRequestError)
    assert caught.value.status is None


async def test_refusals_keep_their_status_and_code(queue_server: Child, queue_name: str) -> None:
    url = queue_server.url("queues")
    wrong_key = _remote(url, key="d3Jvbmc=")
    try:
        with pytest.raises(EndpointAuthRefused) as refused:
            await wrong_key.put(queue_name, "hello")
    finally:
        await wrong_key.close()
    assert (refused.value.status, refused.value.code) == (403, "AuthenticationFailed")

    endpoint = _remote(url)
    try:
        with pytest.raises(EndpointRefused) as too_large:
            await endpoint.put(queue_name, "x" * 70_000)
        await endpoint.put(queue_name, "fits")  # the queue was made; the endpoint still works
        assert [m.text for m in await endpoint.receive(queue_name, 1, 30)] == ["fits"]
    finally:
        await endpoint.close()
    assert too_large.value.status == 413 and too_large.value.code == "RequestBodyTooLarge"


def test_an_unusable_connection_string_or_url_says_so() -> None:
    with pytest.raises(UnreachableQueueService):
        RemoteEndpoint.from_connection_string("AccountName=;nonsense")
    with pytest.raises(UnreachableQueueService):
        RemoteEndpoint.from_url("http://", credential=None)


# -- the local endpoint: the store's refusals and failures, in the same family ---------------


@pytest.mark.parametrize(
    ("raised", "expected", "status", "code"),
    [
        (QueueNotFound(), EndpointNotFound, 404, "QueueNotFound"),
        (StoreUnavailable("database is locked"), EndpointUnavailable, 503, "ServerBusy"),
        (StoreError("disk I/O error"), EndpointRefused, 500, "InternalError"),
    ],
)
def test_the_local_endpoint_answers_as_a_remote_ferry_would(
    raised: Exception, expected: type[QueueEndpointError], status: int, code: str
) -> None:
    with pytest.raises(expected) as caught, store_errors():
        raise raised
    assert (caught.value.status, caught.value.code) == (status, code)
    assert caught.value.__cause__ is raised


# -- the CLI's client: httpx, mapped the same way --------------------------------------------


def _client(handler: Callable[[httpx.Request], httpx.Response]) -> QueueClient:
    connection = QueueConnection(DEV_ACCOUNT, f"http://ferry.test/{DEV_ACCOUNT}", DEV_KEY)
    client = QueueClient(connection)
    client._http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return client


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (403, EndpointAuthRefused),
        (404, EndpointNotFound),
        (409, EndpointConflict),
        (503, EndpointUnavailable),
        (400, EndpointRefused),
    ],
)
async def test_the_cli_client_maps_refusals_by_status(
    status: int, expected: type[QueueEndpointError]
) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, headers={"x-ms-error-code": "Whatever"})

    async with _client(refuse) as client:
        with pytest.raises(expected) as caught:
            await client.create_queue("q")
    assert (caught.value.status, caught.value.code) == (status, "Whatever")


async def test_the_cli_client_maps_transport_failures() -> None:
    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    def garbled(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"<not xml")

    async with _client(unreachable) as client:
        with pytest.raises(EndpointUnavailable):
            await client.list_queues()
    async with _client(garbled) as client:
        with pytest.raises(EndpointProtocolError):
            await client.list_queues()
