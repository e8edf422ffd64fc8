"""Who may see the dashboard: the token `ferry token` prints, kept in a cookie; or, on a
loopback-only instance without `--enable-auth`, anyone at this machine.

A browser cannot send an `Authorization` header on its own, so the token travels in an
HttpOnly, Secure, SameSite=Strict cookie (no script reads it; no other site's page sends
it) and every request is checked by the agents API's own `Authorizer`, as if it came with
`Authorization: Bearer <token>`: one identity, one check.

Without a login, two checks stand in for it. The request must name a loopback host (a page
of another site whose name was pointed at 127.0.0.1, DNS rebinding, names its own), and a
change (a POST) must come from the dashboard's own origin when the browser says where it
came from (another site's form cannot purge a queue).
"""

from __future__ import annotations

import ipaddress
from urllib.parse import parse_qs, urlsplit

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response

from ferry.agents.auth import Authorizer
from ferry.agents.errors import Unauthorized

__all__ = ["COOKIE", "MAX_FORM", "Sessions", "loopback", "token_from_form"]

COOKIE = "ferry_dashboard"
MAX_FORM = 16 * 1024
"""Bytes of form read at most: a token is a few hundred."""
PROJECT = "default"
"""The project a token is checked for: Ferry's tokens are good for every project."""


def loopback(host: str) -> bool:
    """Whether `host` (a name or an address, as bound or as a request names it) can only be
    reached from this machine. `0.0.0.0` and `::` are every interface: not loopback."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def form_fields(request: Request) -> dict[str, list[str]]:
    """An urlencoded form's fields, or none when the body is bigger than any form here."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            return {}
    return parse_qs(body.decode("utf-8", "replace"), max_num_fields=8)


async def token_from_form(request: Request) -> str:
    """The `token` field of the login form, or ""."""
    return ((await form_fields(request)).get("token") or [""])[0].strip()


class Sessions:
    def __init__(self, authorizer: Authorizer, *, path: str, login_required: bool) -> None:
        self.authorizer = authorizer
        self.path = path
        self.login_required = login_required
        """False on a loopback-only instance without `--enable-auth`."""

    async def valid(self, token: str) -> str | None:
        """Why the token is refused, or None when it is good."""
        if not token:
            return "Paste a token: `ferry token` prints one."
        try:
            await self.authorizer.check(Headers({"authorization": f"Bearer {token}"}), PROJECT)
        except Unauthorized as exc:
            return exc.message
        return None

    def open_to(self, request: Request) -> bool:
        """Whether this request needs no login: an open dashboard asked for by a loopback
        name."""
        host = urlsplit(f"//{request.headers.get('host', '')}").hostname or ""
        return not self.login_required and loopback(host)

    async def signed_in(self, request: Request) -> bool:
        if self.open_to(request):
            return True
        return await self.valid(request.cookies.get(COOKIE, "")) is None

    @staticmethod
    def same_origin(request: Request) -> bool:
        """Whether a change comes from the dashboard's own pages. Browsers name the page's
        origin on every POST; a client that names none (a script, a test) is not a page of
        another site."""
        origin = request.headers.get("origin")
        if origin is None:
            return True
        return origin == f"{request.url.scheme}://{request.headers.get('host', '')}"

    def keep(self, response: Response, token: str) -> None:
        response.set_cookie(
            COOKIE, token, path=self.path, httponly=True, secure=True, samesite="strict"
        )

    def forget(self, response: Response) -> None:
        response.delete_cookie(
            COOKIE, path=self.path, httponly=True, secure=True, samesite="strict"
        )
