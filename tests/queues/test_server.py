"""`ferry serve queues` as a process: settings it honours, addressing, the expiry sweeper."""

from __future__ import annotations

import base64
import hashlib
import hmac
import sqlite3
import time
from email.utils import formatdate

import httpx
from azure.storage.queue import QueueServiceClient

from ferry.queues.auth import DEV_ACCOUNT, DEV_KEY
from tests.conftest import ServerFactory

OTHER_KEY = base64.b64encode(b"another account's secret key").decode()


def test_extra_accounts_from_the_environment(
    queue_server_factory: ServerFactory, queue_name: str
) -> None:
    server = queue_server_factory(env={"FERRY_ACCOUNTS": f"teamstore:{OTHER_KEY}"})
    base = server.url("queues").rsplit("/", 1)[0]
    team = QueueServiceClient(
        f"{base}/teamstore", credential={"account_name": "teamstore", "account_key": OTHER_KEY}
    )
    team.create_queue(queue_name).send_message("for the team")
    dev = QueueServiceClient(
        server.url("queues"), credential={"account_name": DEV_ACCOUNT, "account_key": DEV_KEY}
    )
    # Same queue name, different account: a different queue.
    assert queue_name not in [q.name for q in dev.list_queues()]
    dev.create_queue(queue_name)
    assert dev.get_queue_client(queue_name).get_queue_properties().approximate_message_count == 0
    # The development key does not open the other account.
    forged = QueueServiceClient(
        f"{base}/teamstore", credential={"account_name": "teamstore", "account_key": DEV_KEY}
    )
    try:
        list(forged.list_queues())
    except Exception as exc:
        assert "AuthenticationFailed" in str(exc)
    else:
        raise AssertionError("the wrong key was accepted")


def test_expired_messages_are_swept_from_storage(
    queue_server_factory: ServerFactory, full_account_sas: str
) -> None:
    server = queue_server_factory(env={"FERRY_PURGE_INTERVAL": "0.2"})
    url = f"{server.url('queues')}/sweep"
    headers = {"x-ms-version": "2026-10-06"}
    httpx.put(f"{url}?{full_account_sas}", headers=headers).raise_for_status()
    body = b"<QueueMessage><MessageText>short-lived</MessageText></QueueMessage>"
    # A time-to-live far above what 20 puts take even on a loaded machine: all are stored
    # when counted, then expire and are swept.
    for _ in range(20):
        httpx.post(
            f"{url}/messages?messagettl=10&{full_account_sas}", content=body, headers=headers
        ).raise_for_status()
    httpx.post(f"{url}/messages?{full_account_sas}", content=body, headers=headers)

    def stored() -> int:
        with sqlite3.connect(server.data / "ferry.db") as conn:
            return int(conn.execute("SELECT count(*) FROM queue_messages").fetchone()[0])

    assert stored() == 21
    deadline = time.monotonic() + 30
    while stored() > 1 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert stored() == 1


def test_host_style_addressing(queue_server_factory: ServerFactory, full_account_sas: str) -> None:
    server = queue_server_factory()
    base = server.url("queues").rsplit("/", 1)[0]
    port = base.rsplit(":", 1)[1]
    host = f"{DEV_ACCOUNT}.queue.localhost:{port}"
    headers = {"Host": host, "x-ms-version": "2026-10-06"}
    created = httpx.put(f"{base}/hoststyle?{full_account_sas}", headers=headers)
    assert created.status_code == 201
    listed = httpx.get(f"{base}/?comp=list&{full_account_sas}", headers=headers)
    assert "<Name>hoststyle</Name>" in listed.text
    assert f'ServiceEndpoint="http://{host}/"' in listed.text


def test_shared_key_lite(queue_server_factory: ServerFactory) -> None:
    server = queue_server_factory()
    base = server.url("queues")
    path = base.split(f":{base.rsplit(':', 1)[1].split('/')[0]}", 1)[1] + "/litequeue"
    date = formatdate(usegmt=True)
    # Per the documented SharedKeyLite format: verb, Content-MD5, Content-Type, Date,
    # canonicalized x-ms headers, then /<account><path>.
    text = f"PUT\n\n\n\nx-ms-date:{date}\nx-ms-version:2026-10-06\n/{DEV_ACCOUNT}{path}"
    digest = hmac.new(base64.b64decode(DEV_KEY), text.encode(), hashlib.sha256).digest()
    headers = {
        "x-ms-date": date,
        "x-ms-version": "2026-10-06",
        "Authorization": f"SharedKeyLite {DEV_ACCOUNT}:{base64.b64encode(digest).decode()}",
    }
    assert httpx.put(f"{base}/litequeue", headers=headers).status_code == 201
    headers["Authorization"] = headers["Authorization"][:-4] + "AAA="
    assert httpx.put(f"{base}/litequeue2", headers=headers).status_code == 403


def test_cors(queue_server_factory: ServerFactory, full_account_sas: str) -> None:
    server = queue_server_factory()
    url = server.url("queues")
    service = QueueServiceClient(
        url, credential={"account_name": DEV_ACCOUNT, "account_key": DEV_KEY}
    )
    from azure.storage.queue import CorsRule

    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "PUT"}
    refused = httpx.options(f"{url}/q1", headers=preflight)
    assert refused.status_code == 403
    assert refused.headers["x-ms-error-code"] == "CorsPreflightFailure"
    service.set_service_properties(
        cors=[
            CorsRule(
                ["https://app.example"],
                ["GET", "PUT"],
                allowed_headers=["x-ms-meta-*"],
                exposed_headers=["x-ms-request-id"],
                max_age_in_seconds=30,
            )
        ]
    )
    allowed = httpx.options(
        f"{url}/q1", headers={**preflight, "Access-Control-Request-Headers": "x-ms-meta-a"}
    )
    assert allowed.status_code == 200
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert allowed.headers["Access-Control-Max-Age"] == "30"
    bad_header = httpx.options(
        f"{url}/q1", headers={**preflight, "Access-Control-Request-Headers": "x-other"}
    )
    assert bad_header.status_code == 403
    missing = httpx.options(f"{url}/q1", headers={"Origin": "https://app.example"})
    assert missing.status_code == 400
    actual = httpx.get(
        f"{url}/?comp=list&{full_account_sas}",
        headers={"Origin": "https://app.example", "x-ms-version": "2026-10-06"},
    )
    assert actual.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert actual.headers["Access-Control-Expose-Headers"] == "x-ms-request-id"
