"""Fixtures: a real Ferry agent service (in `ferry start` or `ferry serve agents`), driven
with the real azure-ai-projects / azure-ai-agents SDKs over https."""

from __future__ import annotations

import shutil
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from azure.ai.agents import AgentsClient
from azure.core.credentials import AccessToken

from ferry.identity.tokens import TokenIssuer
from ferry.spawn import Child, spawn

APPS = Path(__file__).parent.parent / "apps"


class FerryCredential:
    """A TokenCredential that signs tokens with the data folder's key, as Ferry's own token
    endpoint does (`ferry serve agents` serves none; `ferry start` tests use the endpoint)."""

    def __init__(self, data: Path) -> None:
        self.issuer = TokenIssuer(data)

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        token = self.issuer.issue(scopes[0])
        return AccessToken(token.value, token.expires_on)

    def get_token_info(self, *scopes: str, options: Any = None) -> Any:
        from azure.core.credentials import AccessTokenInfo

        token = self.issuer.issue(scopes[0])
        return AccessTokenInfo(token.value, token.expires_on)


@dataclass
class Ferry:
    child: Child
    data: Path

    @property
    def agents_url(self) -> str:
        return self.child.url("agents")

    @property
    def queues_url(self) -> str:
        return self.child.url("queues")

    @property
    def ca(self) -> Path:
        return self.data / "tls" / "ca.pem"

    def tls_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca))

    def endpoint(self, project: str = "demo") -> str:
        return f"{self.agents_url}/api/projects/{project}"

    def agents(self, project: str = "demo") -> AgentsClient:
        return AgentsClient(
            self.endpoint(project), FerryCredential(self.data), connection_verify=str(self.ca)
        )

    def token(self, resource: str = "https://ai.azure.com") -> str:
        return TokenIssuer(self.data).issue(resource).value

    def auth(self, resource: str = "https://ai.azure.com") -> dict[str, str]:
        """Headers with a valid bearer token for the agents API (or `resource`)."""
        return {"Authorization": f"Bearer {self.token(resource)}"}


StartFerry = Callable[..., Ferry]


@pytest.fixture
def start_ferry(tmp_path: Path) -> Iterator[StartFerry]:
    """`ferry start` on the weather app (queues + functions + agents), or with
    `command="serve"`, `ferry serve agents` alone; every port picked free."""
    children: list[Child] = []

    def start(
        *extra: str, app: str = "weather", command: str = "start", env: dict[str, str] | None = None
    ) -> Ferry:
        data = tmp_path / f"data-{len(children)}"
        if command == "start":
            folder = tmp_path / app
            if not folder.exists():
                shutil.copytree(APPS / app, folder)
            args = ["start", "--app", str(folder), "--queue-port", "0", "--http-port", "0"]
            args += ["--agents-port", "0", "--queue-tls-port", "0", "--identity-port", "0"]
        else:
            args = ["serve", "agents", "--port", "0"]
        child = spawn([*args, *extra], data, env=env)
        children.append(child)
        return Ferry(child, data)

    yield start
    for child in children:
        child.kill()


@pytest.fixture(scope="module")
def weather_ferry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ferry]:
    """One `ferry start` on the weather app for a whole module; its tests make their own
    agents and threads, so they do not meet."""
    root = tmp_path_factory.mktemp("ferry")
    app = root / "weather"
    shutil.copytree(APPS / "weather", app)
    args = ["start", "--app", str(app), "--queue-port", "0", "--http-port", "0"]
    args += ["--agents-port", "0", "--queue-tls-port", "0", "--identity-port", "0"]
    child = spawn(args, root / "data")
    yield Ferry(child, root / "data")
    child.kill()
