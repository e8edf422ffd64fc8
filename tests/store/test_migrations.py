"""Migration 0004 carries a store of the classic tables (0003) onto the run core: the same
assistants, threads, messages, runs and steps come back through the classic API, and a run
that was waiting for the client's tool outputs still takes them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData, Table, create_engine, insert

from ferry.agents.classic.service import ClassicService
from ferry.agents.store import AgentStore
from ferry.store import Database, open_database
from ferry.store.migrate import current_revision, head_revision, upgrade
from tests.conftest import BACKENDS

NOW = 1_790_000_000
WEATHER = {
    "type": "azure_function",
    "azure_function": {
        "function": {"name": "GetWeather", "description": "weather", "parameters": {}},
        "input_binding": {
            "type": "storage_queue",
            "storage_queue": {
                "queue_service_uri": "http://127.0.0.1:10001/devstoreaccount1",
                "queue_name": "input",
            },
        },
        "output_binding": {
            "type": "storage_queue",
            "storage_queue": {
                "queue_service_endpoint": "http://127.0.0.1:10001/devstoreaccount1",
                "queue_name": "output",
            },
        },
    },
}
LOOKUP = {"type": "function", "function": {"name": "lookup", "parameters": {}}}


def _message(message_id: str, role: str, text: str, run_id: str | None = None) -> dict[str, Any]:
    return {
        "id": message_id,
        "object": "thread.message",
        "created_at": NOW,
        "thread_id": "thread_1",
        "status": "completed",
        "role": role,
        "content": [{"type": "text", "text": {"value": text, "annotations": []}}],
        "assistant_id": "asst_1" if run_id else None,
        "run_id": run_id,
        "attachments": [],
        "metadata": {},
    }


def _run(run_id: str, status: str) -> dict[str, Any]:
    return {
        "id": run_id,
        "object": "thread.run",
        "created_at": NOW,
        "thread_id": "thread_1",
        "assistant_id": "asst_1",
        "status": status,
        "expires_at": NOW + 10**9,
        "model": "gpt-4o-mini",
        "instructions": "Be brief.",
        "tools": [WEATHER, LOOKUP],
        "metadata": {"k": "v"},
        "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
        "tool_choice": "auto",
        "parallel_tool_calls": True,
        "response_format": "auto",
        "truncation_strategy": {"type": "auto", "last_messages": None},
    }


def _step(step_id: str, run_id: str, details: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": step_id,
        "object": "thread.run.step",
        "created_at": NOW,
        "run_id": run_id,
        "thread_id": "thread_1",
        "type": details["type"],
        "status": "completed" if run_id == "run_1" else "in_progress",
        "step_details": details,
        "usage": None,
    }


def _fill_0003(conn: Any) -> None:
    tables = MetaData()

    def table(name: str) -> Table:
        return Table(name, tables, autoload_with=conn)

    assistant = {
        "id": "asst_1",
        "object": "assistant",
        "created_at": NOW,
        "name": "weather",
        "description": None,
        "model": "gpt-4o-mini",
        "instructions": "Be brief.",
        "tools": [WEATHER, LOOKUP],
        "tool_resources": {},
        "metadata": {"ferry_tool_timeout": "30"},
        "temperature": 1.0,
        "top_p": 1.0,
        "response_format": "auto",
    }
    conn.execute(insert(table("assistants")), [{"project": "p", "id": "asst_1", "body": assistant}])
    thread = {"id": "thread_1", "object": "thread", "created_at": NOW, "metadata": {}}
    conn.execute(
        insert(table("agent_threads")), [{"project": "p", "id": "thread_1", "body": thread}]
    )
    messages = [
        _message("msg_1", "user", "What is the weather in Seattle?"),
        _message("msg_2", "assistant", "74 degrees and sunny.", run_id="run_1"),
    ]
    conn.execute(
        insert(table("thread_messages")),
        [
            {
                "project": "p",
                "id": m["id"],
                "thread_id": "thread_1",
                "run_id": m["run_id"],
                "body": m,
            }
            for m in messages
        ],
    )
    conn.execute(
        insert(table("runs")),
        [
            {
                "project": "p",
                "id": run_id,
                "thread_id": "thread_1",
                "body": _run(run_id, status),
                "status": status,
                "wake_at": None,
            }
            for run_id, status in (("run_1", "completed"), ("run_2", "requires_action"))
        ],
    )
    call = {
        "id": "call_w",
        "type": "function",
        "function": {"name": "GetWeather", "arguments": '{"location": "Seattle"}', "output": None},
        "queue": {"correlation_id": "corr-1", "status": "answered"},
    }
    waiting = {
        "id": "call_l",
        "type": "function",
        "function": {"name": "lookup", "arguments": "{}", "output": None},
    }
    steps = [
        _step("step_1", "run_1", {"type": "tool_calls", "tool_calls": [call]}),
        _step(
            "step_2",
            "run_1",
            {"type": "message_creation", "message_creation": {"message_id": "msg_2"}},
        ),
        _step("step_3", "run_2", {"type": "tool_calls", "tool_calls": [waiting]}),
    ]
    conn.execute(
        insert(table("run_steps")),
        [
            {
                "project": "p",
                "id": s["id"],
                "thread_id": "thread_1",
                "run_id": s["run_id"],
                "body": s,
            }
            for s in steps
        ],
    )
    conn.execute(
        insert(table("queue_calls")),
        [
            {
                "correlation_id": "corr-1",
                "project": "p",
                "run_id": "run_1",
                "step_id": "step_1",
                "call_id": "call_w",
                "tool": "GetWeather",
                "input_url": "http://127.0.0.1:10001/devstoreaccount1",
                "input_queue": "input",
                "output_url": "http://127.0.0.1:10001/devstoreaccount1",
                "output_queue": "output",
                "payload": "e30=",
                "state": "answered",
                "created_at": NOW * 1000,
                "sent_at": NOW * 1000,
                "answered_at": NOW * 1000 + 5,
                "deadline": NOW * 1000 + 300_000,
                "output": "74 degrees and sunny",
                "late_answers": 1,
            }
        ],
    )


@pytest.fixture(params=BACKENDS)
def old_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A store filled at revision 0003, then opened (and so migrated) by today's Ferry."""
    url = request.getfixturevalue("postgres_databases")() if request.param == "postgres" else None
    engine = create_engine(
        url.replace("postgresql://", "postgresql+psycopg://", 1)
        if url
        else f"sqlite:///{tmp_path / 'ferry.db'}"
    )
    upgrade(engine, "0003")
    with engine.begin() as conn:
        _fill_0003(conn)
    engine.dispose()
    database = open_database(database_url=url, data=tmp_path)
    yield database
    database.close()


async def test_the_classic_objects_come_back_through_the_classic_api(old_store: Database) -> None:
    assert current_revision(old_store.write_engine) == head_revision()
    service = ClassicService(AgentStore(old_store))
    assistant = await service.get_assistant("p", "asst_1")
    assert assistant["name"] == "weather" and assistant["model"] == "gpt-4o-mini"
    assert assistant["metadata"] == {"ferry_tool_timeout": "30"}
    binding = assistant["tools"][0]["azure_function"]["input_binding"]["storage_queue"]
    assert binding["queue_service_endpoint"] == "http://127.0.0.1:10001/devstoreaccount1"
    assert assistant["tools"][1] == {
        "type": "function",
        "function": {"name": "lookup", "description": "", "parameters": {}},
    }
    page = await service.list_messages(
        "p", "thread_1", None, limit=20, order="asc", after=None, before=None
    )
    assert [(m["role"], m["content"][0]["text"]["value"]) for m in page.data] == [
        ("user", "What is the weather in Seattle?"),
        ("assistant", "74 degrees and sunny."),
    ]
    run = await service.get_run("p", "thread_1", "run_1")
    assert run["status"] == "completed" and run["usage"]["total_tokens"] == 7
    assert run["metadata"] == {"k": "v"}
    steps = await service.list_steps(
        "p", "thread_1", "run_1", limit=20, order="asc", after=None, before=None
    )
    assert [s["type"] for s in steps.data] == ["tool_calls", "message_creation"]
    weather = steps.data[0]["step_details"]["tool_calls"][0]
    assert weather["function"]["output"] == "74 degrees and sunny"
    assert (
        weather["queue"]["correlation_id"] == "corr-1" and weather["queue"]["status"] == "answered"
    )
    assert steps.data[1]["step_details"]["message_creation"]["message_id"] == "msg_2"


async def test_a_run_waiting_for_outputs_still_takes_them(old_store: Database) -> None:
    service = ClassicService(AgentStore(old_store))
    run = await service.get_run("p", "thread_1", "run_2")
    assert run["status"] == "requires_action"
    calls = run["required_action"]["submit_tool_outputs"]["tool_calls"]
    assert [(c["id"], c["function"]["name"]) for c in calls] == [("call_l", "lookup")]
    run = await service.submit_tool_outputs("p", "thread_1", "run_2", {"call_l": "found"})
    assert run["status"] == "queued"
