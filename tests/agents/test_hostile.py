"""Malformed and hostile requests to the agents API over raw https: each gets the right
status and a JSON error body, never a 500, and changes nothing stored."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from ferry.spawn import spawn
from tests.agents.conftest import Ferry


@pytest.fixture(scope="module")
def ferry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ferry]:
    """One `ferry serve agents` for the module: each test uses its own objects."""
    data = tmp_path_factory.mktemp("agents")
    child = spawn(["serve", "agents", "--port", "0"], data)
    yield Ferry(child, data)
    child.kill()


@pytest.fixture
def http(ferry: Ferry) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=ferry.endpoint("p"), verify=ferry.tls_context(), headers=ferry.auth(), timeout=10
    ) as client:
        yield client


def error_of(response: httpx.Response, status: int) -> dict[str, str]:
    assert response.status_code == status, response.text
    body = response.json()["error"]
    assert isinstance(body["code"], str) and body["code"]
    assert isinstance(body["message"], str) and body["message"]
    return body


def test_missing_credentials_are_401_with_www_authenticate(ferry: Ferry) -> None:
    with httpx.Client(verify=ferry.tls_context()) as client:
        response = client.get(f"{ferry.endpoint()}/assistants")
    error_of(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{not json", None),
        (b"[1, 2]", None),
        (b'"a string"', None),
        (b"", None),
        (b'{"name": "x"}', "model"),
        (b'{"model": 7}', "model"),
        (b'{"model": "m", "temperature": "hot"}', "temperature"),
        (b'{"model": "m", "temperature": 9}', "temperature"),
        (b'{"model": "m", "tools": {}}', "tools"),
        (b'{"model": "m", "tools": [{"type": "function"}]}', None),
        (b'{"model": "m", "tools": [{"type": "bing_grounding"}]}', None),
        (b'{"model": "m", "tools": [{"type": "code_interpreter", "container": "c1"}]}', None),
        (b'{"model": "m", "tools": [{"type": "mcp", "server_label": "x"}]}', None),
        (b'{"model": "m", "tools": [{"type": "openapi", "openapi": {"name": "x"}}]}', None),
        (b'{"model": "m", "tools": [{"type": "connected_agent", "connected_agent": {}}]}', None),
        (b'{"model": "m", "tools": [{"type": "file_search", "file_search": 5}]}', None),
        (b'{"model": "m", "tools": [{"type": "teleport"}]}', None),
        (b'{"model": "m", "metadata": {"k": 5}}', "metadata"),
        (b'{"model": "m", "metadata": "x"}', "metadata"),
        (b'{"model": "m", "tool_resources": {"azure_ai_search": {"indexes": [{}]}}}', None),
        (b'{"model": "m", "tool_resources": {"code_interpreter": {"file_ids": "f"}}}', None),
        (b'{"model": "m", "tool_resources": {"mcp": [{"headers": {}}]}}', None),
        (b'{"model": "m", "name": "' + b"x" * 300 + b'"}', "name"),
        (b"[" * 100_000 + b"]" * 100_000, None),
        (b'{"model": "\xff\xfe"}', None),
    ],
)
def test_bad_agent_bodies_are_400(http: httpx.Client, body: bytes, field: str | None) -> None:
    before = http.get("/assistants", params={"limit": 100}).json()["data"]
    error = error_of(http.post("/assistants", content=body), 400)
    if field:
        assert field in error["message"]
    assert http.get("/assistants", params={"limit": 100}).json()["data"] == before


def test_bad_azure_function_bindings_are_400(http: httpx.Client) -> None:
    tool = {
        "type": "azure_function",
        "azure_function": {
            "function": {"name": "GetWeather"},
            "input_binding": {"type": "storage_queue", "storage_queue": {"queue_name": "input"}},
            "output_binding": {
                "type": "storage_queue",
                "storage_queue": {"queue_service_uri": "http://127.0.0.1:1/a", "queue_name": "X"},
            },
        },
    }
    error = error_of(http.post("/assistants", json={"model": "m", "tools": [tool]}), 400)
    assert "queue_service_endpoint" in error["message"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/assistants/asst_nope"),
        ("POST", "/assistants/asst_nope"),
        ("DELETE", "/assistants/asst_nope"),
        ("GET", "/threads/thread_nope"),
        ("DELETE", "/threads/thread_nope"),
        ("GET", "/threads/thread_nope/messages"),
        ("POST", "/threads/thread_nope/runs"),
        ("GET", "/threads/thread_nope/runs/run_nope"),
        ("GET", "/threads/thread_nope/runs/run_nope/steps"),
        ("GET", "/no/such/operation"),
        ("GET", "/threads/%2e%2e/%2e%2e/etc/passwd"),
    ],
)
def test_unknown_ids_and_paths_are_404(http: httpx.Client, method: str, path: str) -> None:
    body = {"assistant_id": "asst_nope"} if path.endswith("/runs") else {}
    error_of(http.request(method, path, json=body), 404)


def test_ids_from_another_project_are_not_found(ferry: Ferry, http: httpx.Client) -> None:
    thread = http.post("/threads").json()
    with httpx.Client(
        base_url=ferry.endpoint("other"), verify=ferry.tls_context(), headers=ferry.auth()
    ) as other:
        error_of(other.get(f"/threads/{thread['id']}"), 404)
        error_of(
            other.post(f"/threads/{thread['id']}/messages", json={"role": "user", "content": "x"}),
            404,
        )
    assert http.get(f"/threads/{thread['id']}").status_code == 200


@pytest.mark.parametrize("version", ["abc", "2024-13", "v1;drop", "2024-12-01-preview' OR 1=1"])
def test_malformed_api_version_is_400(http: httpx.Client, version: str) -> None:
    error = error_of(http.get("/assistants", params={"api-version": version}), 400)
    assert error["code"] == "invalid_api_version"


@pytest.mark.parametrize(
    "version", ["v1", "2024-07-01-preview", "2024-12-01-preview", "2099-01-01"]
)
def test_known_and_future_api_versions_are_accepted(http: httpx.Client, version: str) -> None:
    assert http.get("/assistants", params={"api-version": version}).status_code == 200


@pytest.mark.parametrize(
    "params", [{"limit": "0"}, {"limit": "101"}, {"limit": "x"}, {"order": "sideways"}]
)
def test_bad_paging_is_400(http: httpx.Client, params: dict[str, str]) -> None:
    error_of(http.get("/assistants", params=params), 400)


def test_huge_body_is_413(http: httpx.Client) -> None:
    error_of(http.post("/assistants", content=b"x" * (5 * 1024 * 1024)), 413)


def test_sql_meta_characters_are_just_text(http: httpx.Client) -> None:
    name = "x'); DROP TABLE assistants; --"
    agent = http.post("/assistants", json={"model": "m", "name": name}).json()
    assert http.get(f"/assistants/{agent['id']}").json()["name"] == name
    error_of(http.get("/assistants/' OR '1'='1"), 404)


def test_thread_with_an_active_run_refuses_another(http: httpx.Client) -> None:
    agent = http.post(
        "/assistants",
        json={
            "model": "m",
            "tools": [{"type": "function", "function": {"name": "lookup"}}],
        },
    ).json()
    thread = http.post(
        "/threads", json={"messages": [{"role": "user", "content": "call lookup"}]}
    ).json()
    run = http.post(f"/threads/{thread['id']}/runs", json={"assistant_id": agent["id"]}).json()
    second = http.post(f"/threads/{thread['id']}/runs", json={"assistant_id": agent["id"]})
    error = error_of(second, 400)
    assert run["id"] in error["message"]
    error_of(
        http.post(f"/threads/{thread['id']}/messages", json={"role": "user", "content": "x"}), 400
    )


def test_bad_files_and_vector_store_requests(http: httpx.Client) -> None:
    error_of(http.get("/files", params={"limit": 0}), 400)
    error_of(http.post("/vector_stores", json={"file_ids": 5}), 400)
    error = error_of(http.post("/vector_stores", json={"file_ids": ["assistant_x"]}), 404)
    assert "assistant_x" in error["message"]
    error_of(http.get("/vector_stores/vs_nope/files"), 404)


def test_image_content_is_refused_by_name(http: httpx.Client) -> None:
    thread = http.post("/threads").json()
    error = error_of(
        http.post(
            f"/threads/{thread['id']}/messages",
            json={"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]},
        ),
        400,
    )
    assert "image_url" in error["message"]


def test_openapi_document_is_served(ferry: Ferry) -> None:
    with httpx.Client(verify=ferry.tls_context()) as client:
        document = client.get(f"{ferry.agents_url}/openapi.json").json()
    assert document["openapi"].startswith("3.")
    assert "/api/projects/{project}/threads/{thread_id}/runs" in document["paths"]


def test_credentials_are_checked_before_anything_else(ferry: Ferry) -> None:
    """Without a token, a bad project name, api-version or id still gets 401, not 400/404:
    a caller who cannot authenticate learns nothing about what exists."""
    with httpx.Client(verify=ferry.tls_context()) as anonymous:
        for path in (
            "/api/projects/..bad../assistants",
            "/api/projects/p/assistants?api-version=nope",
            "/api/projects/p/threads/thread_missing",
        ):
            error_of(anonymous.get(f"{ferry.agents_url}{path}"), 401)


def test_a_method_a_path_lacks_is_405_naming_the_ones_it_has(http: httpx.Client) -> None:
    response = http.put("/assistants")
    error_of(response, 405)
    assert set(response.headers["allow"].replace(" ", "").split(",")) >= {"GET", "POST"}
    assert http.head("/assistants").status_code == 200
