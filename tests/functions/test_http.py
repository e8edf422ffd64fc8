"""HTTP triggers, admin API and keys under a real `ferry start`."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest

from tests.functions.conftest import StartApp, collect, queue_client

pytestmark = pytest.mark.timeout(60)


def test_routes_params_and_settings(start_app: StartApp) -> None:
    child = start_app("queueapp")
    base = child.url("functions")
    response = httpx.get(f"{base}/api/hello/world?q=1")
    assert response.status_code == 200
    assert response.json() == {"greeting": "hi world", "q": "1"}  # GREETING from local.settings
    assert response.headers["x-from"] == "ferry-test"
    assert response.headers["content-type"].startswith("application/json")
    # wrong method, unknown route, constraint not met
    assert httpx.post(f"{base}/api/hello/world").status_code == 404
    assert httpx.get(f"{base}/api/nothing-here").status_code == 404
    assert httpx.post(f"{base}/api/items/abc", json={}).status_code == 404


def test_http_with_queue_output(start_app: StartApp) -> None:
    child = start_app("queueapp")
    response = httpx.post(f"{child.url('functions')}/api/items/7", json={"name": "kettle"})
    assert response.status_code == 201
    items = queue_client(child.url("queues"), "items")
    [message] = items.receive_messages()
    assert json.loads(message.content) == {"id": 7, "name": "kettle"}


def test_failing_http_function_is_a_500_and_host_stays_up(start_app: StartApp) -> None:
    child = start_app("queueapp")
    base = child.url("functions")
    assert httpx.get(f"{base}/api/boom").status_code == 500
    assert httpx.get(f"{base}/admin/host/status").json()["state"] == "Running"


def test_keys_are_not_enforced_by_default(start_app: StartApp) -> None:
    child = start_app("queueapp")
    assert httpx.get(f"{child.url('functions')}/api/hello/x").status_code == 200
    assert httpx.get(f"{child.url('functions')}/api/admin-only").text == "admin ok"


def test_enable_auth_enforces_function_and_admin_keys(start_app: StartApp) -> None:
    child = start_app("queueapp", "--enable-auth")
    base = child.url("functions")
    shown = subprocess.run(
        [sys.executable, "-m", "ferry", "keys", "--json", "--data", str(child.data)],
        capture_output=True,
        text=True,
        check=True,
    )
    keys = json.loads(shown.stdout)
    function_key = keys["functions"]["hello"]["default"]
    host_key = keys["host"]["default"]
    assert httpx.get(f"{base}/api/hello/x").status_code == 401
    assert httpx.get(f"{base}/api/hello/x", params={"code": "wrong"}).status_code == 401
    assert httpx.get(f"{base}/api/hello/x", params={"code": function_key}).status_code == 200
    assert (
        httpx.get(f"{base}/api/hello/x", headers={"x-functions-key": host_key}).status_code == 200
    )
    # anonymous routes stay open; admin needs the master key
    assert httpx.post(f"{base}/api/items/1", json={}).status_code == 201
    assert httpx.get(f"{base}/api/admin-only", params={"code": host_key}).status_code == 401
    assert httpx.get(f"{base}/api/admin-only", params={"code": keys["master"]}).status_code == 200
    assert httpx.get(f"{base}/admin/host/status").status_code == 401


def test_admin_invokes_a_queue_function(start_app: StartApp) -> None:
    child = start_app("queueapp")
    base = child.url("functions")
    status = httpx.get(f"{base}/admin/host/status").json()
    assert status["state"] == "Running"
    response = httpx.post(f"{base}/admin/functions/from_blueprint", json={"input": "by admin"})
    assert response.status_code == 202
    assert collect(queue_client(child.url("queues"), "bp-out"), 1) == [b"BY ADMIN"]
    assert httpx.post(f"{base}/admin/functions/nope", json={"input": ""}).status_code == 404
    assert httpx.post(f"{base}/admin/functions/hello", json={"input": ""}).status_code == 400
    assert httpx.post(f"{base}/admin/functions/tick", content=b"{not json").status_code == 400


def test_timer_runs_on_startup_and_on_schedule(start_app: StartApp) -> None:
    child = start_app("queueapp", env={"TICK_SCHEDULE": "*/1 * * * * *"})
    ticks = queue_client(child.url("queues"), "ticks")
    seen = [json.loads(m) for m in collect(ticks, 3, timeout=10)]
    assert all(set(s) == {"past_due"} for s in seen)
