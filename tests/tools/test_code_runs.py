"""code_interpreter through the real clients: the classic API (azure-ai-agents) and the
Responses API (openai), on SQLite and PostgreSQL, with real kernels in the real sandbox.

The scripted model calls the tool when told `call code_interpreter {"code": …}` and answers
with what the call returned ("code_interpreter says: …"), so each test chooses the program.
"""

from __future__ import annotations

import json
import ssl
from typing import Any

import httpx2
import pytest
from azure.ai.agents import AgentsClient
from azure.ai.agents.models import CodeInterpreterTool, MessageAttachment
from openai import OpenAI

from tests.agents.conftest import Ferry
from tests.tools.conftest import CODE_TIMEOUT

pytestmark = pytest.mark.slow

CSV = b"sector,operating_profit\nTRANSPORTATION,10\nTRANSPORTATION,32\nMETALS,7\n"


def _code(program: str) -> str:
    return "call code_interpreter " + json.dumps({"code": program})


def _run(client: AgentsClient, agent_id: str, thread_id: str, text: str, **message: Any) -> Any:
    client.messages.create(thread_id=thread_id, role="user", content=text, **message)
    run = client.runs.create_and_process(
        thread_id=thread_id, agent_id=agent_id, polling_interval=0.2
    )
    assert run.status == "completed", run.last_error
    return run


def _code_steps(client: AgentsClient, thread_id: str, run_id: str) -> list[Any]:
    steps = client.run_steps.list(thread_id=thread_id, run_id=run_id)
    return [
        call for step in steps if step.type == "tool_calls" for call in step.step_details.tool_calls
    ]


def _logs(call: Any) -> str:
    return "".join(o.logs for o in call.code_interpreter.outputs if o.type == "logs")


def test_a_thread_keeps_its_session_between_runs(ferry: Ferry) -> None:
    with ferry.agents() as client:
        tool = CodeInterpreterTool()
        agent = client.create_agent(model="gpt-4o-mini", name="coder", tools=tool.definitions)
        thread = client.threads.create()
        first = _run(client, agent.id, thread.id, _code("x = 6 * 7\nprint(x)"))
        (call,) = _code_steps(client, thread.id, first.id)
        assert call.type == "code_interpreter"
        assert call.code_interpreter.input == "x = 6 * 7\nprint(x)"
        assert _logs(call).strip() == "42"
        second = _run(client, agent.id, thread.id, _code("print(x + 1)"))
        (call,) = _code_steps(client, thread.id, second.id)
        assert _logs(call).strip() == "43"
        answer = client.messages.get_last_message_text_by_role(
            thread_id=thread.id, role="assistant"
        )
        assert answer is not None and "43" in answer.text.value
        # Another thread is another session: x is not there.
        other = client.threads.create()
        third = _run(client, agent.id, other.id, _code("print(x)"))
        (call,) = _code_steps(client, other.id, third.id)
        assert "NameError" in _logs(call)


def test_files_go_in_and_what_the_code_makes_comes_out(ferry: Ferry) -> None:
    with ferry.agents() as client:
        upload = client.files.upload_and_poll(file=("results.csv", CSV), purpose="assistants")
        tool = CodeInterpreterTool(file_ids=[upload.id])
        agent = client.create_agent(
            model="gpt-4o-mini",
            name="analyst",
            tools=tool.definitions,
            tool_resources=tool.resources,
        )
        thread = client.threads.create()
        program = (
            "import pandas as pd, matplotlib.pyplot as plt\n"
            "df = pd.read_csv('/mnt/data/results.csv')\n"
            "t = df[df.sector == 'TRANSPORTATION']\n"
            "print(int(t.operating_profit.sum()))\n"
            "t.to_csv('/mnt/data/transport.csv', index=False)\n"
            "t.plot.bar(y='operating_profit'); plt.show()\n"
        )
        run = _run(client, agent.id, thread.id, _code(program))
        (call,) = _code_steps(client, thread.id, run.id)
        assert "42" in _logs(call)
        images = [o.image.file_id for o in call.code_interpreter.outputs if o.type == "image"]
        assert len(images) == 1
        assert client.files.get_content(images[0]) is not None
        png = b"".join(client.files.get_content(images[0]))
        assert png.startswith(b"\x89PNG")
        (message,) = [m for m in client.messages.list(thread_id=thread.id) if m.role == "assistant"]
        # The figure is a part of the answer, the file it wrote a link in it.
        assert [i.image_file.file_id for i in message.image_contents] == images
        (note,) = message.file_path_annotations
        assert note.text == "sandbox:/mnt/data/transport.csv"
        written = b"".join(client.files.get_content(note.file_path.file_id))
        assert written.decode().splitlines() == [
            "sector,operating_profit",
            *[f"TRANSPORTATION,{n}" for n in (10, 32)],
        ]


def test_a_file_attached_for_the_tool_is_in_the_session(ferry: Ferry) -> None:
    with ferry.agents() as client:
        upload = client.files.upload_and_poll(
            file=("notes.txt", b"zebra stripes"), purpose="assistants"
        )
        agent = client.create_agent(model="gpt-4o-mini", name="plain")
        thread = client.threads.create()
        attachment = MessageAttachment(file_id=upload.id, tools=CodeInterpreterTool().definitions)
        run = _run(
            client,
            agent.id,
            thread.id,
            _code("print(open('/mnt/data/notes.txt').read().upper())"),
            attachments=[attachment],
        )
        # The attachment brought the tool to a run whose agent had none.
        assert [t["type"] for t in run.tools] == ["code_interpreter"]
        (call,) = _code_steps(client, thread.id, run.id)
        assert "ZEBRA STRIPES" in _logs(call)


def test_an_endless_loop_is_stopped_and_the_session_goes_on(ferry: Ferry) -> None:
    with ferry.agents() as client:
        agent = client.create_agent(
            model="gpt-4o-mini", name="looper", tools=CodeInterpreterTool().definitions
        )
        thread = client.threads.create()
        _run(client, agent.id, thread.id, _code("kept = 'yes'"))
        run = _run(client, agent.id, thread.id, _code("while True:\n    pass"))
        (call,) = _code_steps(client, thread.id, run.id)
        assert "timed out" in _logs(call).lower() or f"{CODE_TIMEOUT}" in _logs(call)
        run = _run(client, agent.id, thread.id, _code("print(kept)"))
        (call,) = _code_steps(client, thread.id, run.id)
        assert _logs(call).strip() == "yes"


def test_the_walls_hold_through_the_api(ferry: Ferry) -> None:
    """Hostile programs fail inside the sandbox; Ferry answers the next request."""
    with ferry.agents() as client:
        agent = client.create_agent(
            model="gpt-4o-mini", name="hostile", tools=CodeInterpreterTool().definitions
        )
        thread = client.threads.create()
        secret = ferry.data / "tls" / "ca-key.pem"
        programs = {
            f"print(open({str(secret)!r}).read())": ("FileNotFoundError", "PermissionError"),
            "import socket\nsocket.create_connection(('127.0.0.1', 5432), timeout=2)": (
                "OSError",
                "Network is unreachable",
                "Errno",
            ),
        }
        for program, failures in programs.items():
            run = _run(client, agent.id, thread.id, _code(program))
            (call,) = _code_steps(client, thread.id, run.id)
            assert any(f in _logs(call) for f in failures), _logs(call)
        assert client.get_agent(agent.id).id == agent.id


def _openai(ferry: Ferry) -> OpenAI:
    verify = ssl.create_default_context(cafile=str(ferry.ca))
    return OpenAI(
        base_url=f"{ferry.endpoint()}/openai/v1",
        api_key=ferry.token(),
        http_client=httpx2.Client(verify=verify),
        max_retries=0,
    )


def test_responses_show_code_interpreter_calls(ferry: Ferry) -> None:
    with _openai(ferry) as client:
        upload = client.files.create(file=("data.csv", CSV), purpose="assistants")
        tools: Any = [
            {"type": "code_interpreter", "container": {"type": "auto", "file_ids": [upload.id]}}
        ]
        conversation = client.conversations.create()
        program = (
            "import csv\nrows = list(csv.reader(open('/mnt/data/data.csv')))\nprint(len(rows))"
        )
        response = client.responses.create(
            model="gpt-4o-mini", input=_code(program), tools=tools, conversation=conversation.id
        )
        call, message = response.output
        assert call.type == "code_interpreter_call"
        assert call.code == program
        assert call.status == "completed"
        assert [o.logs for o in call.outputs or [] if o.type == "logs"] == ["4\n"]
        assert "4" in response.output_text
        # The conversation's session keeps `rows` for the next response.
        response = client.responses.create(
            model="gpt-4o-mini",
            input=_code("print(rows[1][0])"),
            tools=tools,
            conversation=conversation.id,
        )
        assert "TRANSPORTATION" in response.output_text


def test_without_a_sandbox_the_tool_is_refused_with_the_reason(tmp_path: Any) -> None:
    from ferry.spawn import spawn

    child = spawn(
        ["serve", "agents", "--port", "0"], tmp_path / "data", env={"FERRY_CODE_SANDBOX": "off"}
    )
    try:
        ferry = Ferry(child, tmp_path / "data")
        with ferry.agents() as client:
            agent = client.create_agent(
                model="gpt-4o-mini", name="coder", tools=CodeInterpreterTool().definitions
            )
            thread = client.threads.create()
            client.messages.create(thread_id=thread.id, role="user", content=_code("print(1)"))
            run = client.runs.create_and_process(
                thread_id=thread.id, agent_id=agent.id, polling_interval=0.2
            )
            assert run.status == "failed"
            assert run.last_error["code"] == "tool_unavailable"
            assert "code_interpreter" in run.last_error["message"]
    finally:
        child.kill()


def test_a_streamed_response_tells_the_call_begun_then_done(ferry: Ferry) -> None:
    tools: Any = [{"type": "code_interpreter", "container": {"type": "auto"}}]
    with _openai(ferry) as client:
        events = list(
            client.responses.create(
                model="gpt-4o-mini", input=_code("print(2 ** 10)"), tools=tools, stream=True
            )
        )
    items = [
        (e.type, e.item.type, e.item.status)
        for e in events
        if e.type in ("response.output_item.added", "response.output_item.done")
    ]
    assert items[:2] == [
        ("response.output_item.added", "code_interpreter_call", "in_progress"),
        ("response.output_item.done", "code_interpreter_call", "completed"),
    ]
    (done,) = [
        e
        for e in events
        if e.type == "response.output_item.done" and e.item.type == "code_interpreter_call"
    ]
    assert [o.logs for o in done.item.outputs or []] == ["1024\n"]
    assert events[-1].type == "response.completed"
    assert events[-1].response.output_text == "code_interpreter says: 1024"
