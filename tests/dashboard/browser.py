"""Helpers of the browser tests: a Playwright page on a Ferry's dashboard that signs in when
the dashboard asks for it, and saves full-page screenshots into build/screenshots."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from playwright.sync_api import Page

from tests.agents.conftest import Ferry

__all__ = ["SCREENSHOTS", "Dashboard", "flaky_app"]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
WEATHER_APP = Path(__file__).resolve().parents[1] / "apps" / "weather"


class Dashboard:
    """`page` on `ferry`'s dashboard; screenshots are named after `test` and the step."""

    def __init__(self, page: Page, ferry: Ferry, test: str) -> None:
        self.page = page
        self.ferry = ferry
        self.test = re.sub(r"[^\w.-]+", "-", test)
        self.base = f"{ferry.agents_url}/dashboard"

    def open(self, path: str = "/") -> None:
        """Go to `path` under /dashboard, signing in with a real token when the dashboard
        sends the browser to its login form (an open loopback dashboard does not)."""
        self.page.goto(self.base + path)
        if "/dashboard/login" in self.page.url:
            self.page.fill("input[name=token]", self.ferry.token())
            with self.page.expect_navigation():
                self.page.click("form[action$='/login'] button[type=submit]")
            assert "/dashboard/login" not in self.page.url, self.page.content()
            self.page.goto(self.base + path)

    def shot(self, step: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{self.test}-{step}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


FLAKY_APP = '''"""GetWeather that fails (so the host retries, then poisons the message) until the
file answer.flag appears beside this file."""

import json
import pathlib

import azure.functions as func

app = func.FunctionApp()
FLAG = pathlib.Path(__file__).with_name("answer.flag")


@app.function_name(name="FlakyWeather")
@app.queue_trigger(arg_name="msg", queue_name="{input}", connection="AzureWebJobsStorage")
@app.queue_output(arg_name="out", queue_name="{output}", connection="AzureWebJobsStorage")
def flaky(msg: func.QueueMessage, out: func.Out[str]) -> None:
    if not FLAG.exists():
        raise RuntimeError(f"not ready yet (dequeue {{msg.dequeue_count}})")
    payload = json.loads(msg.get_body().decode("utf-8"))
    answer = {{
        "Value": "Replayed: 61 degrees and clear in " + payload["location"],
        "CorrelationId": payload["CorrelationId"],
    }}
    out.set(json.dumps(answer))
'''


def flaky_app(folder: Path, input_queue: str, output_queue: str) -> Path:
    """A function app in `folder` whose queue trigger raises until `<folder>/answer.flag`
    exists; the flag's path. The host keeps its defaults (5 dequeues, then `-poison`)."""
    folder.mkdir(parents=True)
    (folder / "function_app.py").write_text(
        FLAKY_APP.format(input=input_queue, output=output_queue)
    )
    host = {"version": "2.0", "extensions": {"queues": {"maxPollingInterval": "00:00:01"}}}
    (folder / "host.json").write_text(json.dumps(host))
    shutil.copy(WEATHER_APP / "local.settings.json", folder / "local.settings.json")
    return folder / "answer.flag"
