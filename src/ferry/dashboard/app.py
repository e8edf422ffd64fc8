"""The dashboard as a Starlette application, and the routes that mount it on the agents app.

It is its own application (own error pages in HTML, not the API's JSON errors) mounted at
`/dashboard` ahead of the API's catch-all root routes, on the agents port, so it shares the
API's TLS certificate and identity.
"""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from ferry.agents.auth import Authorizer
from ferry.agents.services import AgentServices
from ferry.dashboard.actions import Actions
from ferry.dashboard.live import Stopping
from ferry.dashboard.reads import Reader
from ferry.dashboard.session import Sessions
from ferry.dashboard.views import Views
from ferry.queues.store import QueueStore

__all__ = ["PREFIX", "build_dashboard", "dashboard_routes"]

PREFIX = "/dashboard"


def build_dashboard(
    services: AgentServices,
    queues: QueueStore,
    authorizer: Authorizer,
    *,
    login_required: bool,
    stopping: Stopping = lambda: False,
    prefix: str = PREFIX,
) -> Starlette:
    """The pages, served under `prefix` (links and the cookie's path are built from it).
    Without `login_required`, a request naming a loopback host needs no token; live pages'
    streams end once `stopping()` says the server is shutting down."""
    views = Views(
        Reader(services.store.database),
        Sessions(authorizer, path=prefix, login_required=login_required),
        Actions(services, queues),
        prefix,
        stopping,
    )
    static = StaticFiles(directory=Path(__file__).parent / "static")
    queue = "/queues/{account}/{name}"
    return Starlette(
        routes=[
            Route("/", views.overview, methods=["GET"]),
            Route("/login", views.login_page, methods=["GET"]),
            Route("/login", views.login, methods=["POST"]),
            Route("/logout", views.logout, methods=["POST"]),
            Route("/conversations", views.conversations, methods=["GET"]),
            Route("/conversations/{conversation_id}", views.conversation, methods=["GET"]),
            Route("/functions", views.functions, methods=["GET"]),
            Route("/files", views.files, methods=["GET"]),
            Route("/runs/{run_id}", views.run, methods=["GET"]),
            Route("/runs/{run_id}/cancel", views.cancel_run, methods=["POST"]),
            Route("/runs/{run_id}/delete-thread", views.delete_thread, methods=["POST"]),
            Route(queue, views.queue, methods=["GET"]),
            Route(f"{queue}/purge", views.purge_queue, methods=["POST"]),
            Route(f"{queue}/poison/{{message_id}}/replay", views.replay, methods=["POST"]),
            Mount("/static", app=static, name="static"),
        ],
        exception_handlers={HTTPException: views.not_found, Exception: views.failed},
    )


def dashboard_routes(
    services: AgentServices,
    queues: QueueStore,
    authorizer: Authorizer,
    *,
    login_required: bool,
    stopping: Stopping = lambda: False,
) -> list[BaseRoute]:
    """The mount, and `/dashboard` itself sent on to `/dashboard/` (the API's root routes
    would otherwise answer it with a JSON 404)."""

    async def to_slash(request: Request) -> Response:
        return RedirectResponse(f"{PREFIX}/", status_code=307)

    dashboard = build_dashboard(
        services, queues, authorizer, login_required=login_required, stopping=stopping
    )
    return [Route(PREFIX, to_slash, methods=["GET", "HEAD"]), Mount(PREFIX, app=dashboard)]
