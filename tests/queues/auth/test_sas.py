"""SAS strictness, through the real SDK where it can send the request: stored access policies
are the account owner's alone, and a SAS naming a field twice is refused."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from azure.core.exceptions import HttpResponseError
from azure.storage.queue import (
    AccessPolicy,
    QueueClient,
    QueueSasPermissions,
    QueueServiceClient,
    generate_queue_sas,
)

from ferry.queues.auth import DEV_ACCOUNT, DEV_KEY
from ferry.spawn import Child

KEY = {"account_name": DEV_ACCOUNT, "account_key": DEV_KEY}


@pytest.fixture
def owner(queue_server: Child, queue_name: str) -> QueueClient:
    client = QueueServiceClient(queue_server.url("queues"), credential=KEY)
    return client.create_queue(queue_name)


def _every_queue_permission(queue_name: str) -> str:
    return generate_queue_sas(
        DEV_ACCOUNT,
        queue_name,
        DEV_KEY,
        permission=QueueSasPermissions(read=True, add=True, update=True, process=True),
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )


@pytest.mark.parametrize("kind", ["account", "queue"])
def test_no_sas_reads_or_sets_stored_access_policies(
    queue_server: Child, owner: QueueClient, full_account_sas: str, kind: str
) -> None:
    sas = full_account_sas if kind == "account" else _every_queue_permission(owner.queue_name)
    client = QueueClient(
        queue_server.url("queues"), owner.queue_name, credential=sas, retry_total=0
    )
    policy = AccessPolicy(permission="r", expiry=datetime.now(UTC) + timedelta(hours=1))
    for attempt in (
        client.get_queue_access_policy,
        lambda: client.set_queue_access_policy({"p1": policy}),
    ):
        with pytest.raises(HttpResponseError) as refused:
            attempt()
        assert refused.value.status_code == 403
        assert refused.value.error_code == "AuthorizationPermissionMismatch"
    # The same SAS still does what it may, and the owner still manages the policies.
    client.send_message("allowed")
    owner.set_queue_access_policy({"p1": policy})
    assert list(owner.get_queue_access_policy()) == ["p1"]


def test_a_sas_giving_sig_twice_is_refused(
    queue_server: Child, owner: QueueClient, full_account_sas: str
) -> None:
    url = f"{queue_server.url('queues')}/{owner.queue_name}/messages"
    headers = {"x-ms-version": "2026-10-06"}
    assert httpx.get(f"{url}?peekonly=true&{full_account_sas}", headers=headers).status_code == 200
    # Given the right signature first and another after it (the SDK cannot send this),
    doubled = f"{url}?peekonly=true&{full_account_sas}&sig=AAAA"
    response = httpx.get(doubled, headers=headers)
    # the service does not pick one: it refuses the request.
    assert response.status_code == 403
    assert response.headers["x-ms-error-code"] == "AuthenticationFailed"
    error = ET.fromstring(response.content)
    assert error.findtext("AuthenticationErrorDetail") == "Signature fields not well formed."
    # The other way round too.
    signature = next(p for p in full_account_sas.split("&") if p.startswith("sig="))
    reordered = full_account_sas.replace(signature, "sig=AAAA") + "&" + signature
    assert httpx.get(f"{url}?peekonly=true&{reordered}", headers=headers).status_code == 403
