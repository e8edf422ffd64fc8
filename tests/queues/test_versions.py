"""Service versions: what today's SDKs send is accepted, and what differs between versions
(`messagettl`) follows the version the request names."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import httpx
import pytest
from azure.core.exceptions import HttpResponseError
from azure.storage.queue import AccessPolicy, QueueServiceClient

from ferry.queues.auth import DEV_ACCOUNT, DEV_KEY
from ferry.queues.auth.sharedkey import sign
from ferry.spawn import Child

KEY = {"account_name": DEV_ACCOUNT, "account_key": DEV_KEY}
SDK_VERSIONS = {
    "python azure-storage-queue 12.18.1": "2026-10-06",
    "javascript @azure/storage-queue 12.32.0": "2026-06-06",
    "dotnet Azure.Storage.Queues 12.27.0": "2026-06-06",
    "an older SDK's": "2025-07-05",
}
MAX_TTL = 2**31 - 1


@pytest.mark.parametrize("version", sorted(set(SDK_VERSIONS.values())))
def test_every_operation_at_the_versions_sdks_send(
    queue_server: Child, queue_name: str, version: str
) -> None:
    stamped: list[str] = []
    service = QueueServiceClient(
        queue_server.url("queues"),
        credential=KEY,
        api_version=version,
        raw_response_hook=lambda r: stamped.append(r.http_response.headers["x-ms-version"]),
    )
    queue = service.create_queue(queue_name, metadata={"Owner": "ferry"})
    queue.set_queue_metadata({"stage": "two"})
    assert queue.get_queue_properties().metadata == {"stage": "two"}
    policy = AccessPolicy(permission="r", expiry=datetime.now(UTC) + timedelta(hours=1))
    queue.set_queue_access_policy({"read": policy})
    assert list(queue.get_queue_access_policy()) == ["read"]
    sent = queue.send_message("hello", time_to_live=-1)
    assert sent.expires_on is not None and sent.expires_on.year == 9999
    [peeked] = queue.peek_messages()
    [received] = queue.receive_messages(visibility_timeout=30)
    assert peeked.content == received.content == "hello"
    updated = queue.update_message(received, content="again", visibility_timeout=0)
    queue.delete_message(received.id, updated.pop_receipt)
    assert [q.name for q in service.list_queues(name_starts_with=queue_name)] == [queue_name]
    service.get_service_properties()
    queue.clear_messages()
    queue.delete_queue()
    assert set(stamped) == {version}


def test_a_message_lives_up_to_the_largest_ttl_from_2017_07_29(
    queue_server: Child, queue_name: str
) -> None:
    queue = QueueServiceClient(queue_server.url("queues"), credential=KEY).create_queue(queue_name)
    sent = queue.send_message("long", time_to_live=MAX_TTL)
    assert sent.expires_on is not None and sent.inserted_on is not None
    assert sent.expires_on - sent.inserted_on == timedelta(seconds=MAX_TTL)
    with pytest.raises(HttpResponseError) as refused:
        queue.send_message("too long", time_to_live=MAX_TTL + 1)
    assert refused.value.status_code == 400
    assert refused.value.error_code == "OutOfRangeQueryParameterValue"


@pytest.mark.parametrize(
    ("version", "ttl", "status"),
    [
        ("2017-04-17", "604800", 201),
        ("2017-04-17", "604801", 400),
        ("2017-04-17", "-1", 400),
        ("2017-04-17", "0", 400),
        ("2017-07-29", "604801", 201),
        ("2017-07-29", "-1", 201),
        ("2017-07-29", str(MAX_TTL + 1), 400),
    ],
)
def test_before_2017_07_29_a_message_lives_seven_days_at_most(
    queue_server: Child, queue_name: str, full_account_sas: str, version: str, ttl: str, status: int
) -> None:
    # The SDKs no longer send versions this old: raw requests, with a SAS.
    QueueServiceClient(queue_server.url("queues"), credential=KEY).create_queue(queue_name)
    response = httpx.post(
        f"{queue_server.url('queues')}/{queue_name}/messages?messagettl={ttl}&{full_account_sas}",
        content=b"<QueueMessage><MessageText>old</MessageText></QueueMessage>",
        headers={"x-ms-version": version},
    )
    assert response.status_code == status, response.text
    if status == 400 and ttl != "0":
        error = ET.fromstring(response.content)
        assert error.findtext("Code") == "OutOfRangeQueryParameterValue"
        assert error.findtext("QueryParameterName") == "messagettl"
        if version == "2017-04-17":
            assert (error.findtext("MinimumAllowed"), error.findtext("MaximumAllowed")) == (
                "1",
                "604800",
            )


def test_a_sas_alone_is_served_by_its_own_version(queue_server: Child, queue_name: str) -> None:
    QueueServiceClient(queue_server.url("queues"), credential=KEY).create_queue(queue_name)
    # Given a queue SAS of version 2017-04-17 (signed here: the SDK signs only its own),
    expiry = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    text = f"a\n\n{expiry}\n/queue/{DEV_ACCOUNT}/{queue_name}\n\n\n\n2017-04-17"
    signature = sign(base64.b64decode(DEV_KEY), text)
    sas = urlencode({"sv": "2017-04-17", "se": expiry, "sp": "a", "sig": signature})
    # when a request carries no x-ms-version,
    response = httpx.post(
        f"{queue_server.url('queues')}/{queue_name}/messages?messagettl=-1&{sas}",
        content=b"<QueueMessage><MessageText>old</MessageText></QueueMessage>",
    )
    # then that version's rules apply: -1 (never expires) came later.
    assert response.status_code == 400, response.text
    assert response.headers["x-ms-error-code"] == "OutOfRangeQueryParameterValue"
