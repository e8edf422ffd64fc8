"""Fixtures of the dashboard's tests: the agents tests' real Ferry processes, and browsers of
their dashboard made with httpx over https (Ferry's own CA), signed in or not."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator

import httpx
import pytest

from ferry.spawn import spawn
from tests.agents.conftest import APPS, Ferry, start_ferry, weather_ferry

__all__ = ["Browse", "browse", "guarded_ferry", "signed_in", "start_ferry", "weather_ferry"]

Browse = Callable[[Ferry], httpx.Client]


def dashboard_client(ferry: Ferry) -> httpx.Client:
    """A client of `/dashboard` that keeps cookies and follows no redirect on its own, so
    tests see every 303."""
    return httpx.Client(
        base_url=f"{ferry.agents_url}/dashboard",
        verify=ferry.tls_context(),
        timeout=20,
        follow_redirects=False,
    )


def sign_in(client: httpx.Client, token: str) -> httpx.Response:
    return client.post("/login", data={"token": token})


@pytest.fixture(scope="module")
def guarded_ferry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ferry]:
    """`ferry start --enable-auth` on the weather app: its dashboard asks for a token even on
    loopback."""
    root = tmp_path_factory.mktemp("ferry")
    app = root / "weather"
    shutil.copytree(APPS / "weather", app)
    args = ["start", "--enable-auth", "--app", str(app), "--queue-port", "0", "--http-port"]
    args += ["0", "--agents-port", "0", "--queue-tls-port", "0", "--identity-port", "0"]
    child = spawn(args, root / "data")
    yield Ferry(child, root / "data")
    child.kill()


@pytest.fixture
def browse() -> Iterator[Browse]:
    """Clients of a Ferry's dashboard, with no session; closed after the test."""
    clients: list[httpx.Client] = []

    def make(ferry: Ferry) -> httpx.Client:
        clients.append(dashboard_client(ferry))
        return clients[-1]

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def signed_in(weather_ferry: Ferry, browse: Browse) -> httpx.Client:
    """A client of the weather Ferry's dashboard, signed in with a real token."""
    client = browse(weather_ferry)
    answer = sign_in(client, weather_ferry.token())
    assert answer.status_code == 303, answer.text
    return client
