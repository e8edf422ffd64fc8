"""Every endpoint refuses missing and forged credentials, and credentials for one thing do not
reach another: each operation of the agents API (taken from its own OpenAPI document) with no
token, a token signed by another key, an expired one and one for storage; a queue SAS on
queues it does not name; a storage token on the agents API and an agents token on the queues.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from azure.core.exceptions import HttpResponseError
from azure.storage.queue import QueueClient, QueueSasPermissions, generate_queue_sas

from ferry.identity.tokens import TokenIssuer
from ferry.queues.auth import DEV_ACCOUNT, DEV_KEY
from tests.agents.conftest import Ferry
from tests.functions.conftest import queue_client

METHODS = ("get", "post", "delete")


@pytest.fixture(scope="module")
def ferry(weather_ferry: Ferry) -> Ferry:
    return weather_ferry


def _operations(ferry: Ferry) -> list[tuple[str, str]]:
    with httpx.Client(verify=ferry.tls_context()) as http:
        document = http.get(f"{ferry.agents_url}/openapi.json").json()
    operations = []
    seed = (
        "/agents/v1.0/subscriptions/s/resourceGroups/g"
        "/providers/Microsoft.MachineLearningServices/workspaces/demo"
    )
    for path, item in document["paths"].items():
        concrete = re.sub(r"\{[^}]+\}", "x_1", path).replace("x_1", "demo", 1)
        methods = [method.upper() for method in item if method in METHODS]
        # The same operations under the seed-era and bare-root path families.
        rest = concrete.removeprefix("/api/projects/demo")
        for where in (concrete, seed + rest, rest):
            operations += [(method, where) for method in methods]
    return operations


def _bad_tokens(ferry: Ferry, tmp_path: Path) -> dict[str, str]:
    stranger = TokenIssuer(tmp_path / "stranger").issue("https://ai.azure.com").value
    expired = TokenIssuer(ferry.data).issue("https://ai.azure.com", now=time.time() - 7 * 86400)
    storage = TokenIssuer(ferry.data).issue("https://storage.azure.com").value
    return {
        "none": "",
        "garbage": "Bearer not-a-token",
        "another key": f"Bearer {stranger}",
        "expired": f"Bearer {expired.value}",
        "storage audience": f"Bearer {storage}",
        "basic": "Basic dXNlcjpwYXNz",
    }


def test_every_agents_operation_refuses_bad_credentials(ferry: Ferry, tmp_path: Path) -> None:
    operations = _operations(ferry)
    assert len(operations) >= 60, operations  # the whole API, in three path families
    refused = 0
    with httpx.Client(base_url=ferry.agents_url, verify=ferry.tls_context(), timeout=10) as http:
        for name, authorization in _bad_tokens(ferry, tmp_path).items():
            headers = {"Authorization": authorization} if authorization else {}
            for method, path in operations:
                response = http.request(
                    method, f"{path}?api-version=2025-05-01", headers=headers, json={}
                )
                assert response.status_code == 401, (name, method, path, response.text)
                assert "WWW-Authenticate" in response.headers, (name, method, path)
                refused += 1
        # Nothing was created by any of them.
        listed = http.get(
            "/api/projects/demo/assistants?api-version=2025-05-01", headers=ferry.auth()
        )
        assert listed.status_code == 200 and listed.json()["data"] == []
    print(f"operations={len(operations)} refused={refused}")


def test_a_queue_sas_reaches_only_its_queue(ferry: Ferry) -> None:
    owner = queue_client(ferry.queues_url, "mine", base64=False)
    owner.create_queue()
    other = queue_client(ferry.queues_url, "theirs", base64=False)
    other.create_queue()
    other.send_message("private")
    sas = generate_queue_sas(
        DEV_ACCOUNT,
        "mine",
        DEV_KEY,
        permission=QueueSasPermissions(read=True, add=True, update=True, process=True),
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )
    mine = QueueClient(ferry.queues_url, "mine", credential=sas)
    mine.send_message("allowed")
    assert [m.content for m in mine.peek_messages()] == ["allowed"]
    theirs = QueueClient(ferry.queues_url, "theirs", credential=sas)
    attempts = [
        lambda: theirs.send_message("intruder"),
        lambda: list(theirs.peek_messages()),
        lambda: list(theirs.receive_messages()),
        theirs.clear_messages,
        theirs.delete_queue,
        theirs.get_queue_properties,
        lambda: theirs.set_queue_metadata({"owned": "yes"}),
    ]
    for attempt in attempts:
        with pytest.raises(HttpResponseError) as refused:
            attempt()
        assert refused.value.status_code == 403, refused.value
    with pytest.raises(HttpResponseError) as delete_own:
        mine.delete_queue()  # the SAS does not grant deleting queues
    assert delete_own.value.status_code == 403
    assert [m.content for m in other.peek_messages()] == ["private"]
    assert other.get_queue_properties().metadata == {}


def test_tokens_for_one_service_do_not_open_the_other(ferry: Ferry) -> None:
    agents_token = ferry.token("https://ai.azure.com")
    with httpx.Client(verify=ferry.tls_context(), timeout=10) as http:
        tls_queues = ferry.child.url("queues_tls")
        response = http.get(
            f"{tls_queues}/anything?comp=metadata",
            headers={"Authorization": f"Bearer {agents_token}", "x-ms-version": "2025-05-05"},
        )
        assert response.status_code == 403, response.text
        assert "<Code>AuthenticationFailed</Code>" in response.text
        assert "Audience validation failed" in response.text
