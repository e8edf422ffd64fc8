"""The dashboard's actions over real https against a real `ferry start` on the weather app,
each checked through the real SDK that made the thing changed: a waiting run cancelled, a
thread deleted, a queue purged; refusals are the service's own words on an error page, what
does not exist is a 404 page, and a wrong method a 405."""

from __future__ import annotations

import time

import pytest
from azure.core.exceptions import ResourceNotFoundError

from ferry.queues.auth import DEV_ACCOUNT
from tests.agents.conftest import Ferry
from tests.agents.test_runs_ga import wait_for, weather_tool
from tests.dashboard.conftest import Browse
from tests.dashboard.test_views import server_sent_events
from tests.functions.conftest import queue_client


def waiting_run(ferry: Ferry) -> tuple[str, str]:
    """(thread id, run id) of a run waiting on a call nobody answers (the weather app never
    answers for "nowhere")."""
    with ferry.agents() as client:
        agent = client.create_agent(
            model="gpt-4o-mini",
            name="dashboard-waiting-agent",
            tools=weather_tool(ferry.queues_url).definitions,
            metadata={"ferry_tool_timeout": "300"},
        )
        thread = client.threads.create()
        client.messages.create(thread_id=thread.id, role="user", content="weather in nowhere")
        run = client.runs.create(thread_id=thread.id, agent_id=agent.id)
        deadline = time.monotonic() + 20
        while client.runs.get(thread_id=thread.id, run_id=run.id).status == "queued":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        return str(thread.id), str(run.id)


def test_a_waiting_run_is_cancelled_once(weather_ferry: Ferry, browse: Browse) -> None:
    thread_id, run_id = waiting_run(weather_ferry)
    client = browse(weather_ferry)
    page = client.get(f"/runs/{run_id}")
    assert 'class="cancel"' in page.text and "data-confirm=" in page.text
    answer = client.post(f"/runs/{run_id}/cancel")
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/dashboard/runs/{run_id}?done=cancelled"
    with weather_ferry.agents() as sdk:
        run = wait_for(sdk, thread_id, run_id, {"cancelled"})
        assert run.status == "cancelled"
    shown = client.get(weather_ferry.agents_url + answer.headers["location"])
    assert "Cancel requested" in shown.text and 'class="cancel"' not in shown.text
    again = client.post(f"/runs/{run_id}/cancel")
    assert again.status_code == 400 and "Cannot cancel run with status" in again.text


def test_deleting_a_thread_ends_the_run_pages_stream(weather_ferry: Ferry, browse: Browse) -> None:
    """The run page's stream says "ended" once the run is gone, so the page reloads onto
    the 404 page; the SDK no longer finds the thread."""
    thread_id, run_id = waiting_run(weather_ferry)
    client = browse(weather_ferry)
    with client.stream("GET", f"/runs/{run_id}", params={"live": "1"}) as stream:
        lines = stream.iter_lines()
        assert run_id in next(server_sent_events(lines))
        answer = client.post(f"/runs/{run_id}/delete-thread")
        assert (
            answer.status_code == 303 and answer.headers["location"] == "/dashboard/?done=deleted"
        )
        assert "event: ended" in list(lines)
    with weather_ferry.agents() as sdk, pytest.raises(ResourceNotFoundError):
        sdk.threads.get(thread_id)
    assert client.get(f"/runs/{run_id}").status_code == 404
    assert client.post(f"/runs/{run_id}/delete-thread").status_code == 404


def test_a_queue_is_purged_and_its_messages_peeked(weather_ferry: Ferry, browse: Browse) -> None:
    queue = queue_client(weather_ferry.queues_url, "dashboard-purge", base64=False)
    queue.create_queue()
    for text in ("one", "<script>alert(1)</script>", "x" * 10_000):
        queue.send_message(text)
    client = browse(weather_ferry)
    page = client.get(f"/queues/{DEV_ACCOUNT}/dashboard-purge")
    assert page.status_code == 200 and page.text.count('class="message"') == 3
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text and "<script>alert" not in page.text
    assert "x" * 4096 + " …" in page.text and "x" * 4097 not in page.text
    assert "No poison queue" in page.text
    answer = client.post(f"/queues/{DEV_ACCOUNT}/dashboard-purge/purge")
    assert answer.status_code == 303
    assert queue.peek_messages(max_messages=32) == []
    shown = client.get(weather_ferry.agents_url + answer.headers["location"])
    assert "The queue was purged." in shown.text


def test_a_poisoned_message_replayed_twice_is_not_found_the_second_time(
    weather_ferry: Ferry, browse: Browse
) -> None:
    work = queue_client(weather_ferry.queues_url, "dashboard-replay", base64=False)
    poison = queue_client(weather_ferry.queues_url, "dashboard-replay-poison", base64=False)
    work.create_queue()
    poison.create_queue()
    sent = poison.send_message("dead letter")
    client = browse(weather_ferry)
    page = client.get(f"/queues/{DEV_ACCOUNT}/dashboard-replay")
    assert 'class="poison-message"' in page.text and sent.id in page.text
    replay = f"/queues/{DEV_ACCOUNT}/dashboard-replay/poison/{sent.id}/replay"
    assert client.post(replay).status_code == 303
    assert [m.content for m in work.peek_messages(max_messages=32)] == ["dead letter"]
    assert poison.peek_messages(max_messages=32) == []
    again = client.post(replay)
    assert again.status_code == 404 and "replayed or has expired" in again.text
    assert len(work.peek_messages(max_messages=32)) == 1


@pytest.mark.parametrize(
    "path",
    [
        "/queues/devstoreaccount1/no-such-queue",
        "/queues/devstoreaccount1/UPPER",
        "/queues/devstoreaccount1/a",
        "/queues/devstoreaccount1/..%2F..%2Fetc",
        "/queues/dev%00store/input",
        "/queues/" + "a" * 100 + "/input",
        "/queues/devstoreaccount1/" + "q" * 64,
    ],
)
def test_queues_that_cannot_exist_are_a_404_page(
    weather_ferry: Ferry, browse: Browse, path: str
) -> None:
    client = browse(weather_ferry)
    assert client.get(path).status_code == 404
    assert client.post(f"{path}/purge").status_code == 404
    assert client.post(f"{path}/poison/some-id/replay").status_code == 404


def test_a_wrong_method_is_a_405_page(weather_ferry: Ferry, browse: Browse) -> None:
    client = browse(weather_ferry)
    for method, path in [
        ("GET", "/runs/run_x/cancel"),
        ("DELETE", "/runs/run_x"),
        ("PUT", "/queues/devstoreaccount1/input/purge"),
        ("GET", "/logout"),
    ]:
        answer = client.request(method, path)
        assert answer.status_code == 405, (method, path, answer.status_code)
        assert "allow" in answer.headers and answer.headers["content-type"].startswith("text/html")
