"""`ferry serve identity`: the token endpoint on its own, as a cluster runs it for its function
apps. Apps get its URL and a fixed header (FERRY_IDENTITY_SECRET, from a Secret), and the
tokens it signs, with the key every replica shares, are taken by an agents API elsewhere."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from azure.ai.agents import AgentsClient
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import ManagedIdentityCredential

from ferry.errors import SpawnError
from ferry.identity.tokens import TokenIssuer
from ferry.spawn import Child, spawn

SECRET = "a-shared-identity-header-from-a-secret"


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[Child, Child, Path]]:
    """An identity server and an agents API on separate data folders sharing one signing
    key and CA, as the Kubernetes manifests give each pod the `ferry-shared` Secret."""
    shared = tmp_path / "shared"
    TokenIssuer(shared)  # makes the signing key
    identity_data, agents_data = tmp_path / "identity", tmp_path / "agents"
    for data in (identity_data, agents_data):
        (data / "identity").mkdir(parents=True)
        shutil.copy(shared / "identity" / "signing-key.pem", data / "identity")
    identity = spawn(
        ["serve", "identity", "--port", "0"], identity_data, env={"FERRY_IDENTITY_SECRET": SECRET}
    )
    agents = spawn(["serve", "agents", "--port", "0"], agents_data)
    yield identity, agents, agents_data
    identity.kill()
    agents.kill()


def test_an_app_elsewhere_gets_tokens_the_agents_api_takes(
    cluster: tuple[Child, Child, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    identity, agents, agents_data = cluster
    assert identity.instance.secrets["identity_header"] == SECRET
    monkeypatch.setenv("IDENTITY_ENDPOINT", identity.url("identity"))
    monkeypatch.setenv("IDENTITY_HEADER", SECRET)
    with AgentsClient(
        f"{agents.url('agents')}/api/projects/cluster",
        ManagedIdentityCredential(),
        connection_verify=str(agents_data / "tls" / "ca.pem"),
    ) as client:
        created = client.create_agent(model="gpt-4o-mini", name="from-a-pod")
        assert [a.id for a in client.list_agents()] == [created.id]


def test_a_wrong_header_gets_no_token(
    cluster: tuple[Child, Child, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    identity, _agents, _data = cluster
    refused = httpx.get(
        identity.url("identity"),
        params={"api-version": "2019-08-01", "resource": "https://ai.azure.com"},
        headers={"X-IDENTITY-HEADER": "guessed"},
    )
    assert refused.status_code == 401, refused.text
    monkeypatch.setenv("IDENTITY_ENDPOINT", identity.url("identity"))
    monkeypatch.setenv("IDENTITY_HEADER", "guessed-but-wrong-header")
    with pytest.raises(ClientAuthenticationError):
        ManagedIdentityCredential().get_token("https://ai.azure.com/.default")


def test_a_short_secret_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SpawnError, match="identity_secret"):
        spawn(
            ["serve", "identity", "--port", "0"],
            tmp_path,
            env={"FERRY_IDENTITY_SECRET": "short"},
            timeout=15,
        )
