"""Who may see the dashboard, over real https against real `ferry start` and `ferry serve
agents`: with `--enable-auth` (or beyond loopback) nothing is readable without a session, a
bad token is refused with the login page and a real one opens the dashboard until sign-out;
on loopback without it, this machine's browser needs no login, but a request naming another
host (DNS rebinding) does, and no other site's page can make a change."""

from __future__ import annotations

import httpx
import pytest

from tests.agents.conftest import Ferry, StartFerry
from tests.dashboard.conftest import Browse, sign_in
from tests.functions.conftest import queue_client

GUARDED = [
    "/",
    "/?part=1",
    "/runs/run_0123456789",
    "/runs/run_0123456789?part=1",
    "/runs/..%2F..%2Fetc%2Fpasswd",
    "/runs/" + "r" * 5000,
    "/no/such/page",
]


def made_agent(ferry: Ferry) -> str:
    """An agent with a name no page may show before sign-in."""
    with ferry.agents() as client:
        return str(client.create_agent(model="gpt-4o-mini", name="secret-agent-name").id)


def assert_to_login(answer: httpx.Response) -> None:
    assert answer.status_code == 303, (answer.request.url, answer.status_code)
    assert answer.headers["location"].endswith("/dashboard/login")
    assert "secret-agent-name" not in answer.text and "asst_" not in answer.text


@pytest.mark.parametrize("path", GUARDED)
def test_without_a_session_every_page_redirects_to_login(
    guarded_ferry: Ferry, browse: Browse, path: str
) -> None:
    made_agent(guarded_ferry)
    client = browse(guarded_ferry)
    assert_to_login(client.get(path))
    followed = client.get(path, follow_redirects=True)
    assert followed.status_code == 200 and 'name="token"' in followed.text
    assert "secret-agent-name" not in followed.text


def test_a_forged_cookie_is_no_session(guarded_ferry: Ferry, browse: Browse) -> None:
    client = browse(guarded_ferry)
    client.cookies.set("ferry_dashboard", "forged.token.value")
    assert_to_login(client.get("/"))


def test_the_login_page_and_assets_are_public(guarded_ferry: Ferry, browse: Browse) -> None:
    client = browse(guarded_ferry)
    bare = client.get(f"{guarded_ferry.agents_url}/dashboard")
    assert bare.status_code == 307 and bare.headers["location"] == "/dashboard/"
    login = client.get("/login")
    assert login.status_code == 200 and 'name="token"' in login.text
    assert "default-src 'self'" in login.headers["content-security-policy"]
    css = client.get("/static/dashboard.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    script = client.get("/static/live.js")
    assert script.status_code == 200 and "data-live" in script.text
    assert client.get("/static/../session.py").status_code in (303, 404)


@pytest.mark.parametrize(
    "token",
    ["", "not-a-token", "eyJhbGciOiJub25lIn0.e30.", "x" * 20_000],
    ids=["empty", "garbage", "unsigned", "huge"],
)
def test_a_bad_token_gets_401_and_the_login_page(
    guarded_ferry: Ferry, browse: Browse, token: str
) -> None:
    client = browse(guarded_ferry)
    answer = sign_in(client, token)
    assert answer.status_code == 401
    assert 'name="token"' in answer.text and 'class="error"' in answer.text
    assert "set-cookie" not in answer.headers
    assert_to_login(client.get("/"))


def test_a_token_for_another_audience_is_refused(guarded_ferry: Ferry, browse: Browse) -> None:
    client = browse(guarded_ferry)
    answer = sign_in(client, guarded_ferry.token("https://storage.azure.com"))
    assert answer.status_code == 401 and "Access denied" in answer.text


def test_a_real_token_signs_in_and_out(guarded_ferry: Ferry, browse: Browse) -> None:
    client = browse(guarded_ferry)
    answer = sign_in(client, guarded_ferry.token())
    assert answer.status_code == 303 and answer.headers["location"] == "/dashboard/"
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "secure" in cookie and "samesite=strict" in cookie
    assert "path=/dashboard" in cookie
    assert client.get("/").status_code == 200
    assert client.get("/login").status_code == 303  # signed in already: on to the overview
    out = client.post("/logout")
    assert out.status_code == 303 and out.headers["location"].endswith("/dashboard/login")
    assert_to_login(client.get("/"))


def test_ferry_serve_agents_serves_the_dashboard(start_ferry: StartFerry, browse: Browse) -> None:
    ferry = start_ferry("--enable-auth", command="serve")
    made_agent(ferry)
    client = browse(ferry)
    assert_to_login(client.get("/"))
    assert sign_in(client, "nope").status_code == 401
    assert sign_in(client, ferry.token()).status_code == 303
    overview = client.get("/")
    assert overview.status_code == 200 and "secret-agent-name" in overview.text


def test_a_loopback_instance_without_enable_auth_needs_no_login(
    weather_ferry: Ferry, browse: Browse
) -> None:
    made_agent(weather_ferry)
    client = browse(weather_ferry)
    overview = client.get("/")
    assert overview.status_code == 200 and "secret-agent-name" in overview.text
    assert "Sign out" not in overview.text
    assert client.get("/login").status_code == 303


@pytest.mark.parametrize("host", ["evil.example", "192.168.1.10", "0.0.0.0", "[::]"])
def test_a_request_naming_another_host_needs_a_login(
    weather_ferry: Ferry, browse: Browse, host: str
) -> None:
    """A page of another site whose name resolves to 127.0.0.1 sends its own name as Host."""
    made_agent(weather_ferry)
    client = browse(weather_ferry)
    assert_to_login(client.get("/", headers={"host": host}))
    assert_to_login(
        client.post("/queues/devstoreaccount1/some-queue/purge", headers={"host": host})
    )


@pytest.mark.parametrize("origin", ["https://evil.example", "null", "http://127.0.0.1:1"])
def test_a_change_from_another_origin_is_refused(
    weather_ferry: Ferry, browse: Browse, origin: str
) -> None:
    client = browse(weather_ferry)
    queue = queue_client(weather_ferry.queues_url, f"origin-{len(origin)}", base64=False)
    queue.create_queue()
    queue.send_message("keep me")
    answer = client.post(
        f"/queues/devstoreaccount1/{queue.queue_name}/purge", headers={"origin": origin}
    )
    assert answer.status_code == 403 and "did not come from the dashboard" in answer.text
    assert len(queue.peek_messages(max_messages=5)) == 1
    own = weather_ferry.agents_url
    assert (
        client.post(
            f"/queues/devstoreaccount1/{queue.queue_name}/purge", headers={"origin": own}
        ).status_code
        == 303
    )
    assert queue.peek_messages(max_messages=5) == []
