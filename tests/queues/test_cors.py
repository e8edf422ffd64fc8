"""CORS on ordinary answers, through the real SDK (which sends any header it is given): every
answer to a request from an allowed origin carries the CORS headers, refusals included, and
GET/HEAD answers say `Vary: Origin` when they depend on the origin."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import httpx
import pytest
from azure.core.exceptions import HttpResponseError
from azure.core.pipeline import PipelineResponse
from azure.storage.queue import CorsRule, QueueClient, QueueServiceClient

from ferry.queues.auth import DEV_ACCOUNT, DEV_KEY
from ferry.spawn import Child, spawn
from tests.conftest import ServerFactory

APP = "https://app.example"
VERSION = "2026-10-06"
KEY = {"account_name": DEV_ACCOUNT, "account_key": DEV_KEY}
CORS = (
    "access-control-allow-origin",
    "access-control-expose-headers",
    "access-control-allow-credentials",
    "vary",
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Child]:
    child = spawn(["serve", "queues", "--port", "0"], tmp_path_factory.mktemp("cors"))
    QueueServiceClient(child.url("queues"), credential=KEY).set_service_properties(
        cors=[
            CorsRule([APP], ["GET", "PUT", "DELETE"], exposed_headers=["x-ms-*"]),
            CorsRule(["*"], ["POST"], exposed_headers=["x-ms-request-id"]),
        ]
    )
    yield child
    child.kill()


def _cors(headers: Mapping[str, str]) -> dict[str, str]:
    found = {name.lower(): value for name, value in headers.items()}
    return {name: found[name] for name in CORS if name in found}


def _refused_cors(call: Callable[[], object]) -> tuple[int, dict[str, str]]:
    with pytest.raises(HttpResponseError) as refused:
        call()
    assert refused.value.response is not None
    return refused.value.status_code or 0, _cors(refused.value.response.headers)


NAMED = {
    "access-control-allow-origin": APP,
    "access-control-expose-headers": "x-ms-*",
    "access-control-allow-credentials": "true",
}


def test_refusals_carry_the_cors_headers(server: Child, queue_name: str) -> None:
    url = server.url("queues")
    origin = {"headers": {"Origin": APP}}
    owner = QueueClient(url, queue_name, credential=KEY, retry_total=0)
    # 404: the queue is not there.
    status, headers = _refused_cors(lambda: owner.get_queue_properties(**origin))
    assert (status, headers) == (404, {**NAMED, "vary": "Origin"})
    # 401: no credentials at all (which the SDK will not send: plain HTTP).
    anonymous = httpx.put(f"{url}/{queue_name}", headers={"Origin": APP, "x-ms-version": VERSION})
    assert (anonymous.status_code, _cors(anonymous.headers)) == (401, NAMED)  # PUT: no Vary
    # 403: a wrong key.
    forged = QueueClient(
        url,
        queue_name,
        credential={"account_name": DEV_ACCOUNT, "account_key": DEV_KEY[:-4] + "AAA="},
        retry_total=0,
    )
    status, headers = _refused_cors(lambda: forged.delete_queue(**origin))
    assert (status, headers) == (403, NAMED)


def _seen() -> tuple[list[dict[str, str]], Any]:
    """The CORS headers of each response, and the SDK hook that collects them."""
    seen: list[dict[str, str]] = []

    def keep(response: PipelineResponse) -> None:  # type: ignore[type-arg]
        seen.append(_cors(response.http_response.headers))

    return seen, keep


def test_successes_carry_them_too(server: Child, queue_name: str) -> None:
    seen, keep = _seen()
    client = QueueClient(server.url("queues"), queue_name, credential=KEY)
    client.create_queue(headers={"Origin": APP}, raw_response_hook=keep)
    client.get_queue_properties(headers={"Origin": APP}, raw_response_hook=keep)
    # A rule allowing every origin answers `*`, without credentials or Vary.
    client.send_message("x", headers={"Origin": "https://any.example"}, raw_response_hook=keep)
    assert seen == [
        NAMED,
        {**NAMED, "vary": "Origin"},
        {
            "access-control-allow-origin": "*",
            "access-control-expose-headers": "x-ms-request-id",
        },
    ]


def test_an_origin_no_rule_allows_gets_only_vary(server: Child, queue_name: str) -> None:
    seen, keep = _seen()
    stranger = {"Origin": "https://stranger.example"}
    client = QueueClient(server.url("queues"), queue_name, credential=KEY, retry_total=0)
    client.create_queue(headers=stranger, raw_response_hook=keep)
    client.get_queue_properties(headers=stranger, raw_response_hook=keep)
    assert seen == [{}, {"vary": "Origin"}]
    missing = QueueClient(server.url("queues"), f"{queue_name}x", credential=KEY, retry_total=0)
    status, headers = _refused_cors(lambda: missing.get_queue_properties(headers=stranger))
    assert (status, headers) == (404, {"vary": "Origin"})


def test_without_rules_nothing_is_added(
    queue_server_factory: ServerFactory, queue_name: str
) -> None:
    server = queue_server_factory()
    seen, keep = _seen()
    client = QueueClient(server.url("queues"), queue_name, credential=KEY)
    client.create_queue(headers={"Origin": APP}, raw_response_hook=keep)
    client.get_queue_properties(headers={"Origin": APP}, raw_response_hook=keep)
    assert seen == [{}, {}]
