"""What the real SDK reads when the queue service refuses its credentials: the service's
status, `x-ms-error-code`, `<Message>` and `<AuthenticationErrorDetail>` naming the reason,
for bearer tokens (over https), shared keys and SAS."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.storage.queue import QueueClient, QueueSasPermissions, generate_queue_sas

from ferry.identity.tokens import ISSUER, PRINCIPAL, TokenIssuer
from ferry.queues.auth import DEV_ACCOUNT, DEV_KEY
from ferry.spawn import Child, spawn

AUTH_FAILED = (
    "Server failed to authenticate the request. Make sure the value of Authorization header "
    "is formed correctly including the signature."
)
OTHER_KEY = "a2V5IG9mIHNvbWVvbmUgZWxzZSwgbm90IHRoZSBhY2NvdW50J3M="


class Fixed:
    """A credential that hands out one given token, whatever it is asked for."""

    def __init__(self, token: str) -> None:
        self.token = token

    def get_token(self, *_scopes: str, **_kwargs: Any) -> AccessToken:
        return AccessToken(self.token, int(time.time()) + 3600)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Child]:
    data = tmp_path_factory.mktemp("refusals") / "data"
    args = ["serve", "queues", "--port", "0", "--tls-port", "0", "--tls-name", "queues.test"]
    child = spawn(args, data)
    yield child
    child.kill()


def _token(data: Path, **overrides: Any) -> str:
    """A token signed with `data`'s identity key, with claims changed as given (None: left out)."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": "https://storage.azure.com",
        "sub": PRINCIPAL,
        "oid": PRINCIPAL,
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
    }
    claims.update(overrides)
    claims = {name: value for name, value in claims.items() if value is not None}
    return jwt.encode(claims, TokenIssuer(data).key, algorithm="ES256")


def _error(exc: HttpResponseError) -> tuple[int, str, str, str | None]:
    """(status, x-ms-error-code, first line of <Message>, <AuthenticationErrorDetail>)."""
    assert exc.response is not None
    root = ET.fromstring(exc.response.text())
    code = root.findtext("Code")
    assert code == exc.response.headers["x-ms-error-code"]
    message = (root.findtext("Message") or "").split("\n")[0]
    return exc.response.status_code, code, message, root.findtext("AuthenticationErrorDetail")


def _refusal(server: Child, token: str) -> tuple[int, str, str, str | None]:
    data = server.data
    client = QueueClient(
        server.url("queues_tls"),
        "tokens",
        credential=Fixed(token),
        connection_verify=str(data / "tls" / "ca.pem"),
        retry_total=0,
    )
    with pytest.raises(HttpResponseError) as refused:
        client.create_queue()
    return _error(refused.value)


@pytest.mark.parametrize(
    ("claims", "detail"),
    [
        (
            {"iss": "https://sts.windows.net/someone-else/"},
            "Issuer validation failed. Issuer did not match.",
        ),
        ({"aud": "https://ai.azure.com"}, "Audience validation failed. Audience did not match."),
        (
            {"iat": 1, "nbf": 1, "exp": 1000},
            "Lifetime validation failed. The token is expired.",
        ),
        (
            {"nbf": int(time.time()) + 86_400, "exp": int(time.time()) + 90_000},
            "Lifetime validation failed. The token is not yet valid.",
        ),
    ],
    ids=["issuer", "audience", "expired", "not-yet-valid"],
)
def test_a_token_failing_a_check_is_403_naming_it(
    server: Child, claims: dict[str, Any], detail: str
) -> None:
    assert _refusal(server, _token(server.data, **claims)) == (
        403,
        "AuthenticationFailed",
        AUTH_FAILED,
        detail,
    )


def test_a_token_signed_by_another_key_fails_signature_validation(
    server: Child, tmp_path: Path
) -> None:
    assert _refusal(server, _token(tmp_path / "elsewhere")) == (
        403,
        "AuthenticationFailed",
        AUTH_FAILED,
        "Signature validation failed. Signature is invalid.",
    )


def test_a_token_that_is_not_a_jwt_is_401_with_the_challenge(server: Child) -> None:
    status, code, message, detail = _refusal(server, "not-a-token")
    assert (status, code, detail) == (401, "InvalidAuthenticationInfo", None)
    assert message == (
        "Authentication information is not given in the correct format. "
        "Check the value of Authorization header."
    )


def test_a_good_token_still_works(server: Child) -> None:
    client = QueueClient(
        server.url("queues_tls"),
        "good-token",
        credential=Fixed(_token(server.data)),
        connection_verify=str(server.data / "tls" / "ca.pem"),
    )
    client.create_queue()
    client.send_message("signed")
    client.delete_queue()


def test_a_wrong_shared_key_names_the_string_to_sign(server: Child) -> None:
    client = QueueClient(
        server.url("queues"),
        "wrong-key",
        credential={"account_name": DEV_ACCOUNT, "account_key": OTHER_KEY},
        retry_total=0,
    )
    with pytest.raises(ClientAuthenticationError) as refused:
        client.create_queue()
    status, code, message, detail = _error(refused.value)
    assert (status, code, message) == (403, "AuthenticationFailed", AUTH_FAILED)
    assert detail is not None
    assert detail.startswith("The MAC signature found in the HTTP request '")
    assert "' is not the same as any computed signature. Server used following string to " in (
        detail
    )
    assert detail.endswith(f"/{DEV_ACCOUNT}/{DEV_ACCOUNT}/wrong-key'.")


def test_a_tampered_sas_names_the_string_to_sign(server: Child) -> None:
    sas = generate_queue_sas(
        DEV_ACCOUNT,
        "tampered",
        DEV_KEY,
        permission=QueueSasPermissions(read=True),
        expiry="2099-01-01T00:00:00Z",
    )
    # Given a SAS that allows reading, when its permissions are widened by hand,
    sas = sas.replace("sp=r", "sp=raup")
    client = QueueClient(server.url("queues"), "tampered", credential=sas, retry_total=0)
    with pytest.raises(ClientAuthenticationError) as refused:
        client.send_message("no")
    # then the signature no longer matches, and the service shows what it signed.
    status, code, message, detail = _error(refused.value)
    assert (status, code, message) == (403, "AuthenticationFailed", AUTH_FAILED)
    assert detail == (
        "Signature did not match. String to sign used was raup\n\n2099-01-01T00:00:00Z\n"
        f"/queue/{DEV_ACCOUNT}/tampered\n\n\n\n{sas.split('sv=')[1].split('&')[0]}"
    )
