"""The secondary endpoint, `<account>-secondary`, in host-style URLs as in path-style ones.

`*.localhost` names do not resolve here, so the SDK's requests go through a transport that
sends them to 127.0.0.1 with the name in the Host header, as DNS would have it."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from azure.core.credentials import AzureNamedKeyCredential
from azure.core.pipeline.transport import HttpRequest, HttpResponse, RequestsTransport
from azure.storage.queue import QueueServiceClient

from ferry.queues.auth import DEV_ACCOUNT, DEV_KEY
from ferry.spawn import Child


class Loopback(RequestsTransport):  # type: ignore[misc]
    """Sends `*.localhost` requests to 127.0.0.1, keeping the name in Host."""

    def send(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:  # type: ignore[override]
        parts = urlsplit(request.url)
        if parts.hostname and parts.hostname.endswith(".localhost"):
            request.headers["Host"] = parts.netloc
            request.url = urlunsplit(parts._replace(netloc=f"127.0.0.1:{parts.port}"))
        return super().send(request, **kwargs)  # type: ignore[no-any-return]


def _host_style(server: Child, account_label: str) -> QueueServiceClient:
    port = urlsplit(server.url("queues")).port
    return QueueServiceClient(
        f"http://{account_label}.queue.localhost:{port}",
        credential=AzureNamedKeyCredential(DEV_ACCOUNT, DEV_KEY),
        secondary_hostname=f"{DEV_ACCOUNT}-secondary.queue.localhost:{port}",
        transport=Loopback(),
        retry_total=0,
    )


def test_host_style_secondary_reads_the_account(queue_server: Child, queue_name: str) -> None:
    primary = _host_style(queue_server, DEV_ACCOUNT)
    primary.create_queue(queue_name, metadata={"side": "primary"})
    secondary = _host_style(queue_server, f"{DEV_ACCOUNT}-secondary")
    listed = list(secondary.list_queues(name_starts_with=queue_name, include_metadata=True))
    assert [(q.name, q.metadata) for q in listed] == [(queue_name, {"side": "primary"})]
    # Get Service Stats is asked of the secondary host.
    stats = primary.get_service_stats()
    assert stats["geo_replication"]["status"] == "live"


def test_path_style_secondary_still_works(queue_server: Child, queue_name: str) -> None:
    url = queue_server.url("queues")
    QueueServiceClient(url, credential=AzureNamedKeyCredential(DEV_ACCOUNT, DEV_KEY)).create_queue(
        queue_name
    )
    secondary = QueueServiceClient(
        url.replace(f"/{DEV_ACCOUNT}", f"/{DEV_ACCOUNT}-secondary"),
        credential=AzureNamedKeyCredential(DEV_ACCOUNT, DEV_KEY),
    )
    assert [q.name for q in secondary.list_queues(name_starts_with=queue_name)] == [queue_name]
