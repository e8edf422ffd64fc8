"""The pages, signed in, over real https against a real `ferry start` on the weather app:
the overview lists what the real SDKs made, the run page shows the run's steps and tool
calls, the fragments the page script refreshes are bare, and hostile ids are a 404 page."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ferry.tracing import span_id_for
from tests.agents.conftest import Ferry
from tests.agents.test_runs_ga import wait_for, weather_tool


def weather_run(ferry: Ferry) -> tuple[str, str]:
    """The seed scenario, made with the real `AgentsClient`: (agent id, completed run id)."""
    agent_id, _, run_id = weather_thread(ferry)
    return agent_id, run_id


def weather_thread(ferry: Ferry) -> tuple[str, str, str]:
    """The seed scenario: (agent id, thread id, completed run id)."""
    with ferry.agents() as client:
        agent = client.create_agent(
            model="gpt-4o-mini",
            name="dashboard-weather-agent",
            instructions="You are a helpful support agent.",
            tools=weather_tool(ferry.queues_url).definitions,
        )
        thread = client.threads.create()
        client.messages.create(
            thread_id=thread.id, role="user", content="What is the weather in Seattle, WA?"
        )
        run = client.runs.create(thread_id=thread.id, agent_id=agent.id)
        done = wait_for(client, thread.id, run.id, {"completed", "failed", "expired"})
        assert done.status == "completed", done.last_error
        return str(agent.id), str(thread.id), str(run.id)


def test_the_overview_lists_agents_runs_and_queues(
    weather_ferry: Ferry, signed_in: httpx.Client
) -> None:
    agent_id, run_id = weather_run(weather_ferry)
    with httpx.Client(
        base_url=weather_ferry.endpoint("demo"),
        verify=weather_ferry.tls_context(),
        headers=weather_ferry.auth(),
        timeout=20,
    ) as http:
        definition = {"kind": "prompt", "model": "gpt-4o-mini", "instructions": "Hi."}
        assert http.post("/agents", json={"name": "v2-dash", "definition": definition}).is_success
        assert http.post("/agents/v2-dash", json={"definition": definition}).is_success
        response = http.post(
            "/openai/v1/responses",
            json={"agent": {"type": "agent_reference", "name": "v2-dash"}, "input": "hi"},
        )
        assert response.is_success, response.text
        response_id = response.json()["id"]
    page = signed_in.get("/")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    html = page.text
    assert agent_id in html and "dashboard-weather-agent" in html
    assert "v2-dash" in html and "v1 gpt-4o-mini" in html and "v2 gpt-4o-mini" in html
    assert f"/dashboard/runs/{run_id}" in html and "status-completed" in html
    assert f"/dashboard/runs/{response_id}" in html and "<td>response</td>" in html
    assert "<code>input</code>" in html and "<code>output</code>" in html
    assert 'data-live="/dashboard/?live=1"' in html and "/dashboard/static/live.js" in html
    part = signed_in.get("/", params={"part": "1"})
    assert part.status_code == 200 and "<html" not in part.text and run_id in part.text
    shown = signed_in.get(f"/runs/{response_id}")
    assert shown.status_code == 200 and "Response <code>" in shown.text
    assert "message_creation" in shown.text and "v2-dash" in shown.text


def test_the_run_page_shows_its_steps_and_tool_calls(
    weather_ferry: Ferry, signed_in: httpx.Client
) -> None:
    _, run_id = weather_run(weather_ferry)
    page = signed_in.get(f"/runs/{run_id}")
    assert page.status_code == 200, page.text
    html = page.text
    assert html.index("<strong>tool_calls</strong>") < html.index(
        "<strong>message_creation</strong>"
    )
    assert "<strong>GetWeather</strong>" in html and "azure_function" in html
    assert "CorrelationId" in html and "74 degrees and sunny in Seattle, WA" in html
    assert "status-answered" in html and "<code>input</code> → <code>output</code>" in html
    assert "queue.put" in html and "queue.answered" in html
    assert f'data-live="/dashboard/runs/{run_id}?live=1"' in html
    part = signed_in.get(f"/runs/{run_id}", params={"part": "1"})
    assert part.status_code == 200 and "<html" not in part.text and "GetWeather" in part.text


def test_the_run_page_shows_its_timeline(weather_ferry: Ferry, signed_in: httpx.Client) -> None:
    """The spans of the seed scenario from Ferry's own records: the run, two model turns with
    their tokens, the tool call under its derived span id and the GetWeather invocation the
    functions host recorded under its CorrelationId."""
    _, thread_id, run_id = weather_thread(weather_ferry)
    with weather_ferry.agents() as client:
        run = client.runs.get(thread_id=thread_id, run_id=run_id)
    html = signed_in.get(f"/runs/{run_id}").text
    timeline = html[html.index("<h2>Timeline</h2>") : html.index("<h2>Steps</h2>")]
    assert timeline.count('class="span span-invoke_agent"') == 1
    assert timeline.count('class="span span-chat"') == 2
    assert "out tokens" in timeline
    tool = timeline[timeline.index("span-execute_tool") :]
    correlation_id = tool.split("CorrelationId ")[1].split("<")[0].strip()
    assert f"{span_id_for('call:' + correlation_id):016x}" in tool
    invocation = tool[tool.index("span-invocation") :]
    assert "<strong>GetWeather</strong>" in invocation and "succeeded" in invocation
    assert f"{span_id_for('run:' + run_id):016x}" in timeline
    assert "<rect" in timeline and "style=" not in timeline  # no inline style: the CSP forbids it
    call = html[html.index('class="call"') :]
    assert 'class="invocation"' in call and "succeeded" in call
    assert run.usage.prompt_tokens > 0


def test_threads_functions_and_files_have_pages(
    weather_ferry: Ferry, signed_in: httpx.Client, tmp_path: Path
) -> None:
    _, thread_id, run_id = weather_thread(weather_ferry)
    notes = tmp_path / "ferry-notes.md"
    notes.write_text("# Notes\n\nThe ferry leaves at noon from pier 3.\n")
    with weather_ferry.agents() as client:
        uploaded = client.files.upload_and_poll(file_path=str(notes), purpose="assistants")
        store = client.vector_stores.create_and_poll(file_ids=[uploaded.id], name="dash-notes")

    listed = signed_in.get("/conversations")
    assert listed.status_code == 200 and thread_id in listed.text and "thread" in listed.text
    thread = signed_in.get(f"/conversations/{thread_id}")
    assert thread.status_code == 200, thread.text
    assert "What is the weather in Seattle, WA?" in thread.text
    assert "74 degrees and sunny" in thread.text
    assert f"/dashboard/runs/{run_id}" in thread.text
    assert f'data-live="/dashboard/conversations/{thread_id}?live=1"' in thread.text
    run_page = signed_in.get(f"/runs/{run_id}").text
    assert f"/dashboard/conversations/{thread_id}" in run_page

    functions = signed_in.get("/functions")
    assert functions.status_code == 200
    row = functions.text[functions.text.index('<tr class="function">') :]
    assert "<strong>GetWeather</strong>" in row and "queueTrigger" in row
    assert f"/dashboard/runs/{run_id}" in functions.text  # an invocation, to the run it answered

    files = signed_in.get("/files")
    assert files.status_code == 200
    assert uploaded.id in files.text and "ferry-notes.md" in files.text
    assert store.id in files.text and "dash-notes" in files.text
    stored = files.text[files.text.index(store.id) :]
    assert "status-completed" in stored.split("</tr>")[0]
    for path in ("/conversations", "/functions", "/files"):
        part = signed_in.get(path, params={"part": "1"})
        assert part.status_code == 200 and "<html" not in part.text


def test_the_overview_streams_a_run_as_it_changes(
    weather_ferry: Ferry, signed_in: httpx.Client
) -> None:
    """What the page script listens to: the overview's fragment as server-sent events, the
    first at once and another when a new run appears, with no request from the page."""
    with signed_in.stream("GET", "/", params={"live": "1"}) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        assert stream.headers["cache-control"] == "no-store"
        events = server_sent_events(stream.iter_lines())
        first = next(events)
        assert "<html" not in first and "Runs and responses" in first
        _, run_id = weather_run(weather_ferry)
        deadline = time.monotonic() + 15
        while run_id not in next(events):
            assert time.monotonic() < deadline


def server_sent_events(lines: Iterator[str]) -> Iterator[str]:
    """The data of each event, its `data:` lines joined as a browser joins them."""
    data: list[str] = []
    for line in lines:
        if line.startswith("data: "):
            data.append(line[len("data: ") :])
        elif line == "" and data:
            yield "\n".join(data)
            data = []


@pytest.mark.parametrize(
    "run_id",
    [
        "run_doesnotexist",
        "run_doesnotexist?part=1",
        "..%2F..%2Fetc%2Fpasswd",
        "..%5C..%5Cwindows",
        "%2e%2e",
        "run%00null",
        "run%27%20OR%201%3D1--",
        "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "r" * 65,
        "r" * 10_000,
        "%F0%9F%92%A5",
        "run_x/steps/y",
    ],
)
@pytest.mark.parametrize("page", ["runs", "conversations"])
def test_hostile_ids_get_a_404_page(signed_in: httpx.Client, page: str, run_id: str) -> None:
    answer = signed_in.get(f"/{page}/{run_id}")
    assert answer.status_code == 404, (run_id, answer.status_code)
    assert "Not found" in answer.text and answer.headers["content-type"].startswith("text/html")
    assert "<script>alert" not in answer.text


def test_unknown_pages_and_methods_are_no_500(signed_in: httpx.Client) -> None:
    assert signed_in.get("/no/such/page").status_code == 404
    assert signed_in.get("/static/missing.css").status_code == 404
    assert signed_in.delete("/").status_code < 500
    assert signed_in.post("/login", content=b"token=" + b"x" * 100_000).status_code == 401
