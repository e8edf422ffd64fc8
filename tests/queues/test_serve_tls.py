"""`ferry serve queues --tls-port`: https beside http, and bearer tokens taken there, so an
app's `DefaultAzureCredential` works with a queue service run apart from `ferry start` (as the
cluster manifests run it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError
from azure.storage.queue import QueueClient

from ferry.identity.tokens import TokenIssuer
from ferry.spawn import Child, spawn
from tests.functions.conftest import connection_string


class Signed:
    """A credential holding tokens signed with a given data folder's key."""

    def __init__(self, data: Path) -> None:
        self.issuer = TokenIssuer(data)

    def get_token(self, *scopes: str, **_kwargs: Any) -> AccessToken:
        token = self.issuer.issue(scopes[0].removesuffix("/.default"))
        return AccessToken(token.value, token.expires_on)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Child]:
    args = ["serve", "queues", "--port", "0", "--tls-port", "0", "--tls-name", "queues.test"]
    child = spawn(args, tmp_path / "data")
    yield child
    child.kill()


def test_tokens_over_https_and_shared_keys_over_http(server: Child, tmp_path: Path) -> None:
    data = tmp_path / "data"
    secure = QueueClient(
        server.url("queues_tls"),
        "by-token",
        credential=Signed(data),
        connection_verify=str(data / "tls" / "ca.pem"),
    )
    secure.create_queue()
    secure.send_message("with a bearer token")
    plain = QueueClient.from_connection_string(connection_string(server.url("queues")), "by-token")
    assert [m.content for m in plain.receive_messages()] == ["with a bearer token"]


def test_a_token_of_another_key_is_refused(server: Child, tmp_path: Path) -> None:
    data = tmp_path / "data"
    stranger = QueueClient(
        server.url("queues_tls"),
        "by-token",
        credential=Signed(tmp_path / "elsewhere"),
        connection_verify=str(data / "tls" / "ca.pem"),
    )
    with pytest.raises(ClientAuthenticationError) as refused:
        stranger.create_queue()
    assert refused.value.status_code == 403
    assert refused.value.error_code == "AuthenticationFailed"
