"""The dashboard's pages and actions.

Each live page (the overview; a run with its timeline; a queue; threads and conversations;
functions and their invocations; files and vector stores) comes three ways: the page, its
bare fragment (`?part=1`) and the fragment as a server-sent stream (`?live=1`,
`ferry.dashboard.live`) that `static/live.js` applies in place. Every page but the login
checks the session first and sends a browser without one to the login page, so nothing is
readable without it; a change (POST) must also come from the dashboard's own origin. What
cannot be found is a 404 page.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ferry.dashboard import live
from ferry.dashboard.actions import Actions
from ferry.dashboard.errors import ActionRefused
from ferry.dashboard.reads import Reader, RunDetail
from ferry.dashboard.session import Sessions, token_from_form

__all__ = ["DONE", "HEADERS", "Views", "templates"]

log = logging.getLogger("ferry.dashboard")

HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
"""On every page: nothing cached, no script or style but Ferry's own, never framed, no
address sent to another site (`same-origin` rather than `no-referrer`: under that, a browser
names the origin of its own form posts "null", and a change could not be told from a
foreign one)."""

DONE = {
    "cancelled": "Cancel requested: the run stops at its next step.",
    "deleted": "The thread was deleted, with its messages and runs.",
    "purged": "The queue was purged.",
    "replayed": "The message is back on its queue for its trigger to try again.",
}
"""What a page says after an action sent the browser back to it (`?done=<key>`): fixed
sentences, so no one can make a page say something by a link."""


def _at(value: Any, scale: int) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
        return "—"
    try:
        moment = datetime.datetime.fromtimestamp(value / scale, tz=datetime.UTC)
    except (OverflowError, ValueError, OSError):  # a client's number, not a time
        return "—"
    return moment.strftime("%Y-%m-%d %H:%M:%S") + (f".{int(value % 1000):03d}" if scale > 1 else "")


def templates() -> Environment:
    """The templates, autoescaped: every value shown comes from clients or models."""
    environment = Environment(
        loader=FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["seconds"] = lambda value: _at(value, 1)
    environment.filters["millis"] = lambda value: _at(value, 1000)
    return environment


Page = Callable[[], Awaitable[dict[str, Any] | None]]
"""What a live page shows, as its templates' context, or None when there is no such thing."""


class Views:
    def __init__(
        self,
        reader: Reader,
        sessions: Sessions,
        actions: Actions,
        prefix: str,
        stopping: live.Stopping = lambda: False,
    ) -> None:
        self.reader = reader
        self.stopping = stopping
        self.sessions = sessions
        self.actions = actions
        self.prefix = prefix
        self.environment = templates()

    def html(self, name: str, **context: Any) -> str:
        return self.environment.get_template(name).render(
            prefix=self.prefix, login_required=self.sessions.login_required, **context
        )

    def render(self, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        return HTMLResponse(self.html(name, **context), status_code=status, headers=HEADERS)

    def to(self, path: str) -> Response:
        return RedirectResponse(f"{self.prefix}{path}", status_code=303, headers=HEADERS)

    # -- session ----------------------------------------------------------------------------

    async def login_page(self, request: Request) -> Response:
        if await self.sessions.signed_in(request):
            return self.to("/")
        return self.render("login.html")

    async def login(self, request: Request) -> Response:
        if not self.sessions.same_origin(request):
            return self.render("error.html", 403, message=FOREIGN)
        token = await token_from_form(request)
        refused = await self.sessions.valid(token)
        if refused is not None:
            return self.render("login.html", status=401, error=refused)
        response = self.to("/")
        self.sessions.keep(response, token)
        return response

    async def logout(self, request: Request) -> Response:
        response = self.to("/login")
        self.sessions.forget(response)
        return response

    # -- live pages -------------------------------------------------------------------------

    async def live(self, request: Request, name: str, page: Page) -> Response:
        """The page `name`.html with its fragment `_name`.html, as asked for."""
        if not await self.sessions.signed_in(request):
            return self.to("/login")
        if request.query_params.get("live") == "1":

            async def fragment() -> str | None:
                if not await self.sessions.signed_in(request):
                    return None
                context = await page()
                return None if context is None else self.html(f"_{name}.html", **context)

            return live.stream(fragment, HEADERS, self.stopping)
        context = await page()
        if context is None:
            return await self.not_found(request)
        if request.query_params.get("part") == "1":
            return self.render(f"_{name}.html", **context)
        done = DONE.get(request.query_params.get("done", ""))
        return self.render(f"{name}.html", done=done, **context)

    async def listed(
        self, request: Request, name: str, key: str, read: Callable[[], Awaitable[Any]]
    ) -> Response:
        """A live page of one read of everything: `read()`'s value as `key`."""

        async def page() -> dict[str, Any]:
            return {key: await read()}

        return await self.live(request, name, page)

    async def overview(self, request: Request) -> Response:
        return await self.listed(request, "overview", "overview", self.reader.overview)

    async def run(self, request: Request) -> Response:
        run_id = str(request.path_params["run_id"])

        async def page() -> dict[str, Any] | None:
            detail = await self.reader.run(run_id)
            return None if detail is None else {"detail": detail}

        return await self.live(request, "run", page)

    async def conversations(self, request: Request) -> Response:
        read = self.reader.conversations
        return await self.listed(request, "conversations", "conversations", read)

    async def conversation(self, request: Request) -> Response:
        conversation_id = str(request.path_params["conversation_id"])

        async def page() -> dict[str, Any] | None:
            detail = await self.reader.conversation(conversation_id)
            return None if detail is None else {"detail": detail}

        return await self.live(request, "conversation", page)

    async def functions(self, request: Request) -> Response:
        return await self.listed(request, "functions", "functions", self.reader.functions)

    async def files(self, request: Request) -> Response:
        return await self.listed(request, "files", "knowledge", self.reader.knowledge)

    async def queue(self, request: Request) -> Response:
        account = str(request.path_params["account"])
        name = str(request.path_params["name"])

        async def page() -> dict[str, Any] | None:
            detail = await self.reader.queue(account, name)
            return None if detail is None else {"queue": detail}

        return await self.live(request, "queue", page)

    # -- actions ----------------------------------------------------------------------------

    async def act(
        self, request: Request, change: Callable[[], Awaitable[str | None]], done: str
    ) -> Response:
        """Run `change` for a signed-in page of this dashboard, then send the browser to the
        path it returns (None: what was asked about does not exist)."""
        if not await self.sessions.signed_in(request):
            return self.to("/login")
        if not self.sessions.same_origin(request):
            return self.render("error.html", 403, message=FOREIGN)
        try:
            back = await change()
        except ActionRefused as exc:
            return self.render("error.html", exc.status, message=exc.message)
        if back is None:
            return await self.not_found(request)
        return self.to(f"{back}?done={done}")

    async def _detail(self, request: Request) -> RunDetail | None:
        return await self.reader.run(str(request.path_params["run_id"]))

    async def cancel_run(self, request: Request) -> Response:
        async def change() -> str | None:
            detail = await self._detail(request)
            if detail is None:
                return None
            await self.actions.cancel(detail.run)
            return f"/runs/{quote(detail.run.id)}"

        return await self.act(request, change, "cancelled")

    async def delete_thread(self, request: Request) -> Response:
        async def change() -> str | None:
            detail = await self._detail(request)
            if detail is None or detail.run.api != "classic" or not detail.run.conversation_id:
                return None
            await self.actions.delete_thread(detail.run.project, detail.run.conversation_id)
            return "/"

        return await self.act(request, change, "deleted")

    def _queue_path(self, request: Request) -> tuple[str, str, str]:
        account = str(request.path_params["account"])
        name = str(request.path_params["name"])
        return account, name, f"/queues/{quote(account)}/{quote(name)}"

    async def purge_queue(self, request: Request) -> Response:
        account, name, path = self._queue_path(request)

        async def change() -> str | None:
            if await self.reader.queue(account, name) is None:
                return None
            await self.actions.purge(account, name)
            return path

        return await self.act(request, change, "purged")

    async def replay(self, request: Request) -> Response:
        account, name, path = self._queue_path(request)
        message_id = str(request.path_params["message_id"])

        async def change() -> str | None:
            if await self.reader.queue(account, name) is None:
                return None
            await self.actions.replay(account, name, message_id)
            return path

        return await self.act(request, change, "replayed")

    # -- errors -----------------------------------------------------------------------------

    async def not_found(self, request: Request, exc: Exception | None = None) -> Response:
        if not await self.sessions.signed_in(request):
            return self.to("/login")
        if isinstance(exc, HTTPException) and exc.status_code != 404:
            message = exc.detail if exc.status_code == 405 else "The request was refused."
            response = self.render("error.html", exc.status_code, message=message)
            response.headers.update(exc.headers or {})
            return response
        return self.render("not_found.html", status=404)

    async def failed(self, request: Request, exc: Exception) -> Response:
        log.error("dashboard page %s failed", request.url.path, exc_info=exc)
        return self.render("error.html", status=500)


FOREIGN = "This change did not come from the dashboard's own page, so it was not made."
