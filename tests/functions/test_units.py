"""Pure logic of the host: time spans, host.json, routes, keys, connections, payloads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ferry.functions.connections import Connections
from ferry.functions.conversion import Datum, queue_payloads
from ferry.functions.errors import ConnectionSettingError, HostConfigError, RouteError
from ferry.functions.hostconfig import load_host_config, parse_timespan
from ferry.functions.keys import load_keys
from ferry.functions.triggers.http import compile_route
from ferry.functions.triggers.timer import next_occurrence
from ferry.queues.auth import DEV_ACCOUNT, DEV_KEY, Accounts
from ferry.queues.endpoints.local import LocalEndpoint
from ferry.queues.endpoints.remote import RemoteEndpoint
from ferry.queues.locator import LocalQueues, QueueLocator
from ferry.queues.store import QueueStore
from ferry.store import Database


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("00:00:02", 2), ("00:01:00", 60), ("1.00:00:00", 86400), ("00:00:00.5", 0.5), (3, 3)],
)
def test_timespans(text: object, seconds: float) -> None:
    assert parse_timespan(text, "x") == seconds


@pytest.mark.parametrize("bad", ["2s", "00:00", "", None, "aa:bb:cc", True])
def test_bad_timespans(bad: object) -> None:
    with pytest.raises(HostConfigError):
        parse_timespan(bad, "x")


def test_host_json_defaults_and_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_FUNCTIONS_ENVIRONMENT", "Development")
    default = load_host_config(tmp_path)
    assert default.queues.batch_size == 16
    assert default.queues.max_polling_interval == 2
    assert default.queues.max_dequeue_count == 5
    assert default.function_timeout == 1800
    (tmp_path / "host.json").write_text(
        json.dumps(
            {
                "functionTimeout": "-1",
                "extensions": {
                    "http": {"routePrefix": ""},
                    "queues": {"batchSize": 32, "messageEncoding": "None"},
                },
            }
        )
    )
    config = load_host_config(tmp_path)
    assert config.function_timeout is None
    assert config.route_prefix == ""
    assert config.queues.batch_size == 32
    assert config.queues.message_encoding == "none"


@pytest.mark.parametrize(
    "queues",
    [{"batchSize": 0}, {"batchSize": "16"}, {"maxDequeueCount": 0}, {"messageEncoding": "utf8"}],
)
def test_host_json_refuses_bad_values(tmp_path: Path, queues: dict[str, object]) -> None:
    (tmp_path / "host.json").write_text(json.dumps({"extensions": {"queues": queues}}))
    with pytest.raises(HostConfigError):
        load_host_config(tmp_path)


def test_routes() -> None:
    pattern, literals = compile_route("products/{category:alpha}/{id:int?}")
    assert literals == 1
    match = pattern.match("/Products/tools/12")
    assert match is not None and match.groupdict() == {"category": "tools", "id": "12"}
    assert pattern.match("/products/tools") is not None
    assert pattern.match("/products/42/12") is None
    catch_all, _ = compile_route("files/{*path}")
    found = catch_all.match("/files/a/b/c.txt")
    assert found is not None and found.group("path") == "a/b/c.txt"
    with pytest.raises(RouteError):
        compile_route("x/{*rest}/y")
    with pytest.raises(RouteError):
        compile_route("x/{id:unknown}")


def test_keys_persist_and_check(tmp_path: Path) -> None:
    keys = load_keys(tmp_path, ["Hello"])
    again = load_keys(tmp_path, ["Hello", "Other"])
    assert again.master == keys.master
    assert again.functions["hello"] == keys.functions["hello"]
    function_key = keys.functions["hello"]["default"]
    assert again.allows("function", "Hello", function_key)
    assert not again.allows("function", "Other", function_key)
    assert again.allows("function", "Other", again.host["default"])
    assert not again.allows("admin", "Hello", again.host["default"])
    assert again.allows("admin", "Hello", again.master)
    assert again.allows("anonymous", "Hello", None)
    assert not again.allows("function", "Hello", None)


def test_queue_payloads() -> None:
    assert queue_payloads(Datum("a", "string")) == [b"a"]
    assert queue_payloads(Datum(b"\x00", "bytes")) == [b"\x00"]
    listed = Datum(json.dumps(["x", {"id": None, "body": "y"}, {"k": 1}]), "json")
    assert queue_payloads(listed) == [b"x", b"y", b'{"k": 1}']


def test_next_occurrence() -> None:
    start = 1_800_000_000_000  # a whole minute
    assert next_occurrence("*/5 * * * * *", start) == start + 5_000
    assert next_occurrence("0 * * * * *", start) == start + 60_000


def test_connections(database: Database) -> None:
    local = LocalQueues(QueueStore(database), Accounts({}))
    dev = f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};"
    environ = {
        "AzureWebJobsStorage": "UseDevelopmentStorage=true",
        "Dev": dev + "QueueEndpoint=http://127.0.0.1:5999/devstoreaccount1",
        "Ident__queueServiceUri": "http://localhost:10001/devstoreaccount1",
        "Far": "DefaultEndpointsProtocol=https;AccountName=far;AccountKey=" + DEV_KEY,
        "Bad": "no equals sign",
    }
    connections = Connections(QueueLocator(local), environ=environ)
    assert isinstance(connections.endpoint(None, "f"), LocalEndpoint)
    assert isinstance(connections.endpoint("Dev", "f"), LocalEndpoint)
    assert isinstance(connections.endpoint("Ident", "f"), LocalEndpoint)
    assert isinstance(connections.endpoint("Far", "f"), RemoteEndpoint)
    with pytest.raises(ConnectionSettingError, match="'Missing' is not configured"):
        connections.endpoint("Missing", "f")
    with pytest.raises(ConnectionSettingError, match="not a usable connection string"):
        connections.endpoint("Bad", "f")
    alone = Connections(QueueLocator(None), environ=environ)
    assert isinstance(alone.endpoint(None, "f"), RemoteEndpoint)
