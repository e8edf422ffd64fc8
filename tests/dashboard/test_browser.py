"""The dashboard in a real browser (Playwright driving Debian's chromium) against a real
`ferry start`, with the real azure-ai-agents SDK making the runs: what the httpx tests cannot
see, the page script updating the page in place, links followed by clicks, and a replay
confirmed in a `window.confirm` dialog. Full-page screenshots land in build/screenshots."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.ai.agents.models import ListSortOrder, MessageRole
from playwright.sync_api import Browser, Dialog, Page, expect, sync_playwright

from ferry.queues.auth import DEV_ACCOUNT
from tests.agents.conftest import Ferry, StartFerry
from tests.agents.test_runs_ga import wait_for, weather_tool
from tests.dashboard.browser import Dashboard, flaky_app

pytestmark = pytest.mark.slow

SEEN = 20_000
"""Milliseconds a page gets to show a change: the page script refreshes every few seconds."""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's chromium (`make unit` installs it), headless; never a downloaded browser."""
    executable = shutil.which("chromium")
    if executable is None:
        reason = "Debian's chromium is not installed (`apt-get install chromium`; `make unit` does)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser profile (no cookies) that accepts Ferry's own CA's certificate."""
    context = browser.new_context(ignore_https_errors=True, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(SEEN)
    yield context.new_page()
    context.close()


def dashboard(page: Page, ferry: Ferry, request: pytest.FixtureRequest) -> Dashboard:
    return Dashboard(page, ferry, request.node.name)


def column(page: Page, rows: str, heading: str) -> int:
    """Where `heading` is among the headings of the table holding `rows`."""
    return page.locator(f"table:has({rows}) thead th").all_inner_texts().index(heading)


def test_a_weather_run_appears_live_and_its_tool_call_is_shown(
    weather_ferry: Ferry, page: Page, request: pytest.FixtureRequest
) -> None:
    """The overview is open before the run exists: the run must appear, completed, without
    a reload, and its page must show the azure_function call as it went over the queues."""
    board = dashboard(page, weather_ferry, request)
    board.open("/")
    page.evaluate("window.ferryNotReloaded = true")
    with weather_ferry.agents() as client:
        agent = client.create_agent(
            model="gpt-4o-mini",
            name="browser-weather-agent",
            instructions="You are a helpful support agent.",
            tools=weather_tool(weather_ferry.queues_url).definitions,
        )
        thread = client.threads.create()
        client.messages.create(
            thread_id=thread.id, role="user", content="What is the weather in Seattle, WA?"
        )
        run = client.runs.create(thread_id=thread.id, agent_id=agent.id)
        run = wait_for(client, thread.id, run.id, {"completed", "failed", "expired"})
        assert run.status == "completed", run.last_error
        steps = list(
            client.run_steps.list(thread_id=thread.id, run_id=run.id, order=ListSortOrder.ASCENDING)
        )
        correlation_id = steps[0].step_details.tool_calls[0]["queue"]["correlation_id"]

    row = page.locator("tr.run", has_text=run.id)
    expect(row).to_be_visible(timeout=SEEN)
    expect(row.locator(".status")).to_have_text("completed", timeout=SEEN)
    assert page.evaluate("window.ferryNotReloaded") is True  # updated in place
    board.shot("overview")

    row.locator(f"a[href$='/runs/{run.id}']").click()
    expect(page).to_have_url(re.compile(rf"/dashboard/runs/{run.id}$"))
    expect(page.locator("h1")).to_contain_text(run.id)
    call = page.locator(".call", has_text="GetWeather")
    expect(call).to_be_visible()
    expect(call).to_contain_text("azure_function")
    expect(call.locator(".status")).to_have_text("answered")
    expect(call).to_contain_text("CorrelationId")
    expect(call).to_contain_text(correlation_id)
    expect(call).to_contain_text(re.compile(r"input\s*→\s*output"))
    expect(call.locator(".output")).to_contain_text("74 degrees and sunny in Seattle, WA")
    spans = page.locator("table.spans tr.span")
    expect(spans.first).to_contain_text("invoke_agent browser-weather-agent")
    expect(page.locator("tr.span-chat")).to_have_count(2)
    tool = page.locator("tr.span-execute_tool")
    expect(tool).to_contain_text(correlation_id)
    expect(page.locator("tr.span-invocation")).to_contain_text("GetWeather")
    expect(page.locator("tr.span-invocation")).to_contain_text("succeeded")
    board.shot("run")

    page.locator("nav.pages a", has_text="Functions").click()
    expect(page.locator("tr.function", has_text="GetWeather")).to_be_visible()
    page.locator("tr.invocation a", has_text=correlation_id).click()
    expect(page).to_have_url(re.compile(rf"/dashboard/runs/{run.id}$"))
    page.locator("dd a", has_text=thread.id).click()
    expect(page.locator(".item-message", has_text="What is the weather in Seattle")).to_be_visible()
    expect(page.locator(".item-message", has_text="74 degrees and sunny")).to_be_visible()
    board.shot("thread")


def test_a_timed_out_tool_call_shows_its_reason(
    weather_ferry: Ferry, page: Page, request: pytest.FixtureRequest
) -> None:
    """The weather app never answers for "nowhere": with a 2 s tool timeout the run fails,
    and its page must say which call timed out and why, in the run's own words."""
    with weather_ferry.agents() as client:
        agent = client.create_agent(
            model="gpt-4o-mini",
            name="browser-timeout-agent",
            tools=weather_tool(weather_ferry.queues_url).definitions,
            metadata={"ferry_tool_timeout": "2"},
        )
        thread = client.threads.create()
        client.messages.create(thread_id=thread.id, role="user", content="weather in nowhere")
        run = client.runs.create(thread_id=thread.id, agent_id=agent.id)
        run = wait_for(client, thread.id, run.id, {"completed", "failed", "expired"})
        assert run.status == "failed" and run.last_error.code == "tool_timeout", run.last_error
        reason = run.last_error.message

    board = dashboard(page, weather_ferry, request)
    board.open(f"/runs/{run.id}")
    expect(page.locator("h1")).to_contain_text(run.id)
    expect(page.locator("main .status").first).to_have_text("failed")  # the run's own
    call = page.locator(".call", has_text="GetWeather")
    expect(call.locator(".status")).to_have_text("timed_out")
    expect(call).to_contain_text(re.compile(r"input\s*→\s*output"))
    expect(page.locator(".bad", has_text=reason).first).to_be_visible()
    board.shot("run")


def test_a_poisoned_message_is_replayed_and_then_answered(
    start_ferry: StartFerry, tmp_path: Path, page: Page, request: pytest.FixtureRequest
) -> None:
    """The function fails until a flag file exists, so the host poisons the tool call's
    message while the run waits. The overview must count it, the queue page must list it,
    and its replay (confirmed in a dialog) must put it back so the now-healthy function
    answers and the run completes."""
    flag = flaky_app(tmp_path / "flaky", "flaky-in", "flaky-out")
    ferry = start_ferry(app="flaky")
    board = dashboard(page, ferry, request)
    with ferry.agents() as client:
        agent = client.create_agent(
            model="gpt-4o-mini",
            name="browser-poison-agent",
            tools=weather_tool(ferry.queues_url, "flaky-in", "flaky-out").definitions,
            metadata={"ferry_tool_timeout": "120"},
        )
        thread = client.threads.create()
        client.messages.create(thread_id=thread.id, role="user", content="weather in Oslo")
        run = client.runs.create(thread_id=thread.id, agent_id=agent.id)

        board.open("/")
        queue_row = page.locator("tr.queue", has=page.get_by_text("flaky-in", exact=True))
        expect(queue_row).to_be_visible(timeout=SEEN)
        poison = column(page, "tr.queue", "Poison")
        expect(queue_row.locator("td").nth(poison)).to_have_text("1", timeout=SEEN)
        assert client.runs.get(thread_id=thread.id, run_id=run.id).status == "in_progress"
        board.shot("overview-poisoned")

        # The run's page says where its call's message lies, and links there.
        board.open(f"/runs/{run.id}")
        waiting = page.locator(".call", has_text="GetWeather")
        expect(waiting.locator(".poisoned")).to_contain_text("flaky-in-poison")
        expect(waiting.locator(".invocation").first).to_contain_text("failed")
        expect(page.locator("tr.span-execute_tool")).to_contain_text("poisoned")
        board.shot("run-poisoned")

        waiting.locator(".poisoned a").click()
        expect(page).to_have_url(re.compile(rf"/dashboard/queues/{DEV_ACCOUNT}/flaky-in$"))
        poisoned = page.locator("tr.poison-message")
        expect(poisoned).to_have_count(1)
        form = poisoned.locator("form.replay")
        confirm = form.get_attribute("data-confirm")
        assert confirm, "the replay form says what it will do"
        board.shot("queue-before")

        flag.touch()
        asked: list[str] = []

        def accept(dialog: Dialog) -> None:
            asked.append(dialog.message)
            dialog.accept()

        page.once("dialog", accept)
        with page.expect_navigation():
            form.locator("button").click()
        assert asked == [confirm]
        expect(page).to_have_url(
            re.compile(rf"/dashboard/queues/{DEV_ACCOUNT}/flaky-in\?done=replayed$")
        )
        expect(page.locator(".notice")).to_contain_text("back on its queue")
        expect(page.locator("tr.poison-message")).to_have_count(0)
        board.shot("queue-after")

        run = wait_for(client, thread.id, run.id, {"completed", "failed", "expired"}, timeout=30)
        assert run.status == "completed", run.last_error
        last = client.messages.get_last_message_text_by_role(thread.id, MessageRole.AGENT)
        assert last is not None and "61 degrees and clear in Oslo" in last.text.value

    board.open(f"/runs/{run.id}")
    expect(page.locator("h1")).to_contain_text(run.id)
    call = page.locator(".call", has_text="GetWeather")
    expect(call.locator(".status")).to_have_text("answered")
    expect(call).to_contain_text(re.compile(r"flaky-in\s*→\s*flaky-out"))
    expect(call.locator(".output")).to_contain_text("Replayed: 61 degrees and clear in Oslo")
    board.shot("run")
