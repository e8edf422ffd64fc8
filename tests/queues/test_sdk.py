"""The real azure-storage-queue SDK (sync) against a real `ferry serve queues`, per backend."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
)
from azure.storage.queue import (
    AccessPolicy,
    AccountSasPermissions,
    BinaryBase64DecodePolicy,
    BinaryBase64EncodePolicy,
    CorsRule,
    Metrics,
    QueueAnalyticsLogging,
    QueueClient,
    QueueSasPermissions,
    QueueServiceClient,
    ResourceTypes,
    RetentionPolicy,
    TextBase64DecodePolicy,
    TextBase64EncodePolicy,
    generate_account_sas,
    generate_queue_sas,
)

from ferry.queues.auth import DEV_ACCOUNT, DEV_KEY
from ferry.spawn import Child


def connection_string(server: Child) -> str:
    return (
        f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};"
        f"QueueEndpoint={server.url('queues')};"
    )


@pytest.fixture
def service(queue_server: Child) -> QueueServiceClient:
    return QueueServiceClient.from_connection_string(connection_string(queue_server))


@pytest.fixture
def queue(service: QueueServiceClient, queue_name: str) -> QueueClient:
    client = service.get_queue_client(queue_name)
    client.create_queue()
    return client


def test_create_get_properties_delete(service: QueueServiceClient, queue_name: str) -> None:
    client = service.get_queue_client(queue_name)
    client.create_queue(metadata={"team": "ferry"})
    # The service answers 204 to a second create with the same metadata (the SDK turns that
    # into an error of its own) and 409 QueueAlreadyExists when the metadata differs.
    with pytest.raises(ResourceExistsError) as same:
        client.create_queue(metadata={"team": "ferry"})
    assert same.value.status_code == 204
    with pytest.raises(ResourceExistsError) as conflict:
        client.create_queue(metadata={"team": "other"})
    assert conflict.value.status_code == 409
    assert conflict.value.error_code == "QueueAlreadyExists"
    props = client.get_queue_properties()
    assert props.metadata == {"team": "ferry"}
    assert props.approximate_message_count == 0
    client.delete_queue()
    with pytest.raises(ResourceNotFoundError) as missing:
        client.get_queue_properties()
    assert missing.value.error_code == "QueueNotFound"


def test_metadata(queue: QueueClient, service: QueueServiceClient) -> None:
    queue.set_queue_metadata({"a": "1", "CamelCase": "two words"})
    # Names keep their case, in Get Queue Metadata's headers as in List Queues.
    assert queue.get_queue_properties().metadata == {"a": "1", "CamelCase": "two words"}
    listed = list(service.list_queues(name_starts_with=queue.queue_name, include_metadata=True))
    assert listed[0].metadata == {"a": "1", "CamelCase": "two words"}
    queue.set_queue_metadata({})
    assert queue.get_queue_properties().metadata == {}


def test_send_peek_receive_update_delete(queue: QueueClient) -> None:
    sent = queue.send_message("hello & <world>")
    assert sent.id and sent.pop_receipt and sent.inserted_on and sent.expires_on
    assert sent.expires_on - sent.inserted_on == timedelta(days=7)
    peeked = queue.peek_messages(max_messages=5)
    assert [(m.content, m.dequeue_count) for m in peeked] == [("hello & <world>", 0)]
    received = list(queue.receive_messages(max_messages=5, visibility_timeout=60))
    assert [(m.content, m.dequeue_count) for m in received] == [("hello & <world>", 1)]
    assert queue.peek_messages() == []
    updated = queue.update_message(received[0], content="changed", visibility_timeout=0)
    assert updated.pop_receipt and updated.pop_receipt != received[0].pop_receipt
    again = list(queue.receive_messages())
    assert [(m.content, m.dequeue_count) for m in again] == [("changed", 2)]
    # The receipt from before the update no longer works: the service says 404 MessageNotFound.
    with pytest.raises(ResourceNotFoundError) as stale:
        queue.delete_message(received[0].id, received[0].pop_receipt)
    assert stale.value.error_code == "MessageNotFound"
    queue.delete_message(again[0])
    assert queue.get_queue_properties().approximate_message_count == 0


def test_visibility_timeout_expires(queue: QueueClient) -> None:
    queue.send_message("comes back")
    first = list(queue.receive_messages(visibility_timeout=1))
    assert len(first) == 1
    assert list(queue.receive_messages()) == []
    time.sleep(1.2)
    second = list(queue.receive_messages())
    assert [(m.id, m.dequeue_count) for m in second] == [(first[0].id, 2)]


def test_ttl_and_delayed_messages(queue: QueueClient) -> None:
    forever = queue.send_message("forever", time_to_live=-1)
    assert forever.expires_on == datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    queue.send_message("short", time_to_live=1)
    queue.send_message("delayed", visibility_timeout=60)
    time.sleep(1.2)
    assert [m.content for m in queue.peek_messages(max_messages=32)] == ["forever"]
    assert queue.get_queue_properties().approximate_message_count == 2


def test_receive_pages_and_max_32(queue: QueueClient) -> None:
    for i in range(40):
        queue.send_message(f"m{i}")
    page = queue.receive_messages(messages_per_page=32, visibility_timeout=60)
    first = next(page.by_page())
    assert len(list(first)) == 32
    rest = list(queue.receive_messages(max_messages=40, visibility_timeout=60))
    assert len(rest) == 8


def test_base64_policies_as_the_functions_host_uses(
    service: QueueServiceClient, queue_name: str
) -> None:
    binary = service.get_queue_client(
        queue_name,
        message_encode_policy=BinaryBase64EncodePolicy(),
        message_decode_policy=BinaryBase64DecodePolicy(),
    )
    binary.create_queue()
    binary.send_message(b'{"Value": "74 degrees", "CorrelationId": "c1"}')
    text = service.get_queue_client(
        queue_name,
        message_encode_policy=TextBase64EncodePolicy(),
        message_decode_policy=TextBase64DecodePolicy(),
    )
    assert [m.content for m in text.peek_messages()] == [
        '{"Value": "74 degrees", "CorrelationId": "c1"}'
    ]


def test_clear_messages(queue: QueueClient) -> None:
    for _ in range(5):
        queue.send_message("x")
    queue.clear_messages()
    assert queue.peek_messages() == []
    assert queue.get_queue_properties().approximate_message_count == 0


def test_list_queues_with_prefix_metadata_and_paging(service: QueueServiceClient) -> None:
    prefix = f"list{int(time.time() * 1000) % 10**9}"
    names = [f"{prefix}-{i:02d}" for i in range(7)]
    for name in names:
        service.create_queue(name, metadata={"i": name[-2:]})
    listed = list(
        service.list_queues(name_starts_with=prefix, include_metadata=True, results_per_page=3)
    )
    assert [q.name for q in listed] == names
    assert listed[3].metadata == {"i": "03"}
    pages = list(service.list_queues(name_starts_with=prefix, results_per_page=3).by_page())
    assert [len(list(p)) for p in pages] == [3, 3, 1]


def test_access_policies(queue: QueueClient) -> None:
    expiry = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    queue.set_queue_access_policy(
        {"read-only": AccessPolicy(permission=QueueSasPermissions(read=True), expiry=expiry)}
    )
    policies = queue.get_queue_access_policy()
    assert list(policies) == ["read-only"]
    assert policies["read-only"].permission == "r"
    queue.set_queue_access_policy({})
    assert queue.get_queue_access_policy() == {}


def test_service_properties(service: QueueServiceClient) -> None:
    service.set_service_properties(
        analytics_logging=QueueAnalyticsLogging(
            read=True, retention_policy=RetentionPolicy(enabled=True, days=5)
        ),
        hour_metrics=Metrics(
            enabled=True, include_apis=True, retention_policy=RetentionPolicy(enabled=True, days=3)
        ),
        cors=[CorsRule(["https://example.com"], ["GET", "PUT"], max_age_in_seconds=60)],
    )
    props = service.get_service_properties()
    assert props["analytics_logging"].read is True
    assert props["analytics_logging"].retention_policy.days == 5
    assert props["hour_metrics"].enabled is True
    assert props["cors"][0].allowed_origins == "https://example.com"
    # Sections left out of a later call stay as they were.
    service.set_service_properties(cors=[])
    props = service.get_service_properties()
    assert props["cors"] == []
    assert props["hour_metrics"].enabled is True


def test_queue_sas_scoped_to_queue_and_permissions(
    queue_server: Child, queue: QueueClient, service: QueueServiceClient, queue_name: str
) -> None:
    url = queue_server.url("queues")
    expiry = datetime.now(UTC) + timedelta(hours=1)
    sas = generate_queue_sas(
        DEV_ACCOUNT,
        queue_name,
        DEV_KEY,
        permission=QueueSasPermissions(add=True, read=True),
        expiry=expiry,
    )
    client = QueueClient.from_queue_url(f"{url}/{queue_name}", credential=sas)
    client.send_message("via sas")
    assert [m.content for m in client.peek_messages()] == ["via sas"]
    # Receiving needs "process", which this SAS lacks.
    with pytest.raises(HttpResponseError) as denied:
        list(client.receive_messages())
    assert denied.value.error_code == "AuthorizationPermissionMismatch"
    # The same SAS does not open another queue.
    other = service.create_queue(f"{queue_name}x")
    stranger = QueueClient.from_queue_url(f"{url}/{other.queue_name}", credential=sas)
    with pytest.raises(ClientAuthenticationError) as forged:
        stranger.send_message("no")
    assert forged.value.error_code == "AuthenticationFailed"


def test_queue_sas_from_stored_access_policy(
    queue_server: Child, queue: QueueClient, queue_name: str
) -> None:
    expiry = datetime.now(UTC) + timedelta(hours=1)
    queue.set_queue_access_policy(
        {
            "workers": AccessPolicy(
                permission=QueueSasPermissions(process=True, add=True), expiry=expiry
            )
        }
    )
    sas = generate_queue_sas(DEV_ACCOUNT, queue_name, DEV_KEY, policy_id="workers")
    worker = QueueClient.from_queue_url(
        f"{queue_server.url('queues')}/{queue_name}", credential=sas
    )
    worker.send_message("job")
    got = list(worker.receive_messages())
    worker.delete_message(got[0])
    # Revoking the policy revokes every SAS that names it.
    queue.set_queue_access_policy({})
    with pytest.raises(ClientAuthenticationError):
        worker.send_message("after revoke")


def test_account_sas(queue_server: Child, queue_name: str, full_account_sas: str) -> None:
    url = queue_server.url("queues")
    expiry = datetime.now(UTC) + timedelta(hours=1)
    full = full_account_sas
    service = QueueServiceClient(url, credential=full)
    client = service.create_queue(queue_name)
    client.send_message("x")
    assert queue_name in [q.name for q in service.list_queues(name_starts_with=queue_name)]
    objects_only = generate_account_sas(
        DEV_ACCOUNT,
        DEV_KEY,
        ResourceTypes(object=True),
        AccountSasPermissions(read=True),
        expiry=expiry,
    )
    limited = QueueServiceClient(url, credential=objects_only)
    assert [m.content for m in limited.get_queue_client(queue_name).peek_messages()] == ["x"]
    with pytest.raises(HttpResponseError) as wrong_type:
        limited.create_queue(f"{queue_name}y")
    assert wrong_type.value.error_code == "AuthorizationResourceTypeMismatch"
    expired = generate_account_sas(
        DEV_ACCOUNT,
        DEV_KEY,
        ResourceTypes(object=True),
        AccountSasPermissions(read=True),
        expiry=datetime.now(UTC) - timedelta(minutes=1),
    )
    with pytest.raises(ClientAuthenticationError):
        QueueServiceClient(url, credential=expired).get_queue_client(queue_name).peek_messages()


def test_wrong_key_is_refused(queue_server: Child, queue_name: str) -> None:
    wrong = DEV_KEY[:-8] + "AAAAAAA="
    service = QueueServiceClient(
        queue_server.url("queues"), credential={"account_name": DEV_ACCOUNT, "account_key": wrong}
    )
    with pytest.raises(ClientAuthenticationError) as refused:
        service.create_queue(queue_name)
    assert refused.value.error_code == "AuthenticationFailed"


def test_use_development_storage_style_connection_string_needs_only_the_endpoint(
    queue_server: Child, queue_name: str
) -> None:
    # The well-known development account and key, as local.settings.json files carry them.
    conn = (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
        f"AccountKey={DEV_KEY};QueueEndpoint={queue_server.url('queues')};"
    )
    client = QueueClient.from_connection_string(conn, queue_name)
    client.create_queue()
    client.send_message("dev")
    assert client.get_queue_properties().approximate_message_count == 1
