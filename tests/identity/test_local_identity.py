"""Local identity under a real `ferry start`: azure-identity's credentials take tokens from
Ferry's token endpoint, the queue service takes them over https, and bad tokens, bad
headers and bad requests get the services' own refusals."""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import certifi
import httpx
import pytest
from azure.identity import DefaultAzureCredential, ManagedIdentityCredential
from azure.storage.queue import QueueClient

from ferry.identity.tokens import TokenIssuer
from ferry.spawn import Child, spawn

APPS = Path(__file__).parent.parent / "apps"


class Running:
    def __init__(self, child: Child, data: Path) -> None:
        self.child = child
        self.data = data
        self.services = child.instance.services
        self.secret = child.instance.secrets["identity_header"]
        self.bundle = data / "tls" / "bundle.pem"

    def verify(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.data / "tls" / "ca.pem"))


@pytest.fixture(scope="module")
def ferry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    root = tmp_path_factory.mktemp("identity")
    args = ["start", "--app", str(APPS / "weather"), "--queue-port", "0", "--http-port", "0"]
    args += ["--agents-port", "0", "--queue-tls-port", "0", "--identity-port", "0"]
    child = spawn([*args, "--tls-name", "ferry.test", "--tls-name", "10.9.8.7"], root / "data")
    yield Running(child, root / "data")
    child.kill()


@pytest.fixture
def identity_env(ferry: Running, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDENTITY_ENDPOINT", ferry.services["identity"])
    monkeypatch.setenv("IDENTITY_HEADER", ferry.secret)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ferry.bundle))


def test_credentials_get_tokens_and_queues_take_them_over_https(
    ferry: Running, identity_env: None
) -> None:
    for credential in (ManagedIdentityCredential(), DefaultAzureCredential()):
        token = credential.get_token("https://storage.azure.com/.default")
        assert token.token.count(".") == 2 and token.expires_on > 0
        queue = QueueClient(ferry.services["queues_tls"], "from-identity", credential=credential)
        queue.create_queue()
        queue.send_message("hello over https with a token")
        [message] = list(queue.receive_messages())
        assert message.content == "hello over https with a token"
        queue.delete_queue()


def _queue_error(response: httpx.Response) -> str:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer ")
    assert "resource_id=https://storage.azure.com" in response.headers["www-authenticate"]
    code = response.headers["x-ms-error-code"]
    assert f"<Code>{code}</Code>" in response.text
    return code


def test_the_queue_service_refuses_a_malformed_token(ferry: Running) -> None:
    response = httpx.get(
        f"{ferry.services['queues_tls']}?comp=list",
        headers={"Authorization": "Bearer not.a.token", "x-ms-version": "2026-10-06"},
        verify=ferry.verify(),
    )
    assert _queue_error(response) == "InvalidAuthenticationInfo"


@pytest.mark.parametrize(
    ("token", "detail"),
    [
        (
            lambda data, other: TokenIssuer(data).issue("https://ai.azure.com").value,
            "Audience validation failed.",
        ),
        (
            lambda data, other: TokenIssuer(other).issue("https://storage.azure.com").value,
            "Signature validation failed.",
        ),
        (
            lambda data, other: TokenIssuer(data).issue("https://storage.azure.com", now=1).value,
            "Lifetime validation failed. The token is expired.",
        ),
    ],
    ids=["wrong-audience", "other-key", "expired"],
)
def test_the_queue_service_refuses_bad_tokens(
    ferry: Running, tmp_path: Path, token: Any, detail: str
) -> None:
    """As the service does: 403 AuthenticationFailed, the reason in AuthenticationErrorDetail."""
    bearer = token(ferry.data, tmp_path)
    response = httpx.get(
        f"{ferry.services['queues_tls']}?comp=list",
        headers={"Authorization": f"Bearer {bearer}", "x-ms-version": "2026-10-06"},
        verify=ferry.verify(),
    )
    assert response.status_code == 403, response.text
    assert response.headers["x-ms-error-code"] == "AuthenticationFailed"
    assert f"<AuthenticationErrorDetail>{detail}" in response.text


def test_shared_key_still_works_over_https(ferry: Running, identity_env: None) -> None:
    from ferry.queues.auth import DEV_ACCOUNT, DEV_KEY

    queue = QueueClient(
        ferry.services["queues_tls"],
        "by-shared-key",
        credential={"account_name": DEV_ACCOUNT, "account_key": DEV_KEY},
    )
    queue.create_queue()
    queue.delete_queue()


def test_the_agents_api_refuses_tokens_for_other_audiences(ferry: Running) -> None:
    storage = TokenIssuer(ferry.data).issue("https://storage.azure.com").value
    response = httpx.get(
        f"{ferry.services['agents']}/api/projects/p/assistants",
        headers={"Authorization": f"Bearer {storage}"},
        verify=ferry.verify(),
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "not for this service" in response.json()["error"]["message"]
    good = TokenIssuer(ferry.data).issue("https://ml.azure.com").value
    response = httpx.get(
        f"{ferry.services['agents']}/api/projects/p/assistants",
        headers={"Authorization": f"Bearer {good}"},
        verify=ferry.verify(),
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("header", "query", "status"),
    [
        (None, {"api-version": "2019-08-01", "resource": "https://storage.azure.com"}, 401),
        ("wrong", {"api-version": "2019-08-01", "resource": "https://storage.azure.com"}, 401),
        ("right", {"api-version": "2017-09-01", "resource": "https://storage.azure.com"}, 400),
        ("right", {"api-version": "2019-08-01", "resource": "https://evil.example"}, 400),
        ("right", {"api-version": "2019-08-01"}, 400),
    ],
    ids=["no-header", "wrong-header", "api-version", "unknown-resource", "no-resource"],
)
def test_the_token_endpoint_refuses_bad_requests(
    ferry: Running, header: str | None, query: dict[str, str], status: int
) -> None:
    headers = {}
    if header is not None:
        headers["X-IDENTITY-HEADER"] = ferry.secret if header == "right" else header
    response = httpx.get(ferry.services["identity"], params=query, headers=headers)
    assert response.status_code == status
    assert response.json()["error"]


def test_ferry_env_prints_what_clients_need(ferry: Running) -> None:
    def env(form: str) -> str:
        return subprocess.run(
            [sys.executable, "-m", "ferry", "env", "--data", str(ferry.data), "--format", form],
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    variables = json.loads(env("json"))
    assert variables["IDENTITY_HEADER"] == ferry.secret
    assert variables["STORAGE_CONNECTION__queueServiceUri"] == ferry.services["queues_tls"]
    assert variables["PROJECT_ENDPOINT"] == f"{ferry.services['agents']}/api/projects/default"
    host, subscription, group, project = variables["PROJECT_CONNECTION_STRING"].split(";")
    assert ferry.services["agents"].endswith(host) and project == "default"
    assert variables["REQUESTS_CA_BUNDLE"] == str(ferry.bundle)
    token = variables["AZURE_AI_AGENTS_TOKEN"]
    response = httpx.get(
        f"{variables['AZURE_AI_AGENTS_ENDPOINT']}/assistants",
        params={"api-version": "2024-12-01-preview"},
        headers={"Authorization": f"Bearer {token}"},
        verify=ferry.verify(),
    )
    assert response.status_code == 200
    sh = env("sh")
    assert f"export IDENTITY_HEADER='{ferry.secret}'" in sh
    assert "set -gx PROJECT_ENDPOINT '" in env("fish")
    assert "$env:PROJECT_ENDPOINT = '" in env("powershell")
    assert 'PROJECT_ENDPOINT="' in env("dotenv")
    # `eval "$(ferry env)"` in a real shell.
    shell = subprocess.run(
        ["sh", "-c", f'eval "{sh}"; printf %s "$IDENTITY_HEADER"'],
        capture_output=True,
        text=True,
        check=True,
    )
    assert shell.stdout == ferry.secret


def test_ferry_env_without_a_running_instance_is_a_clear_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ferry", "env", "--data", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "no running Ferry instance" in result.stderr
    assert "Traceback" not in result.stderr


def test_clients_that_do_not_trust_the_ca_are_refused_and_the_bundle_fixes_it(
    ferry: Running,
) -> None:
    url = f"{ferry.services['agents']}/api/projects/p/assistants"
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(url, verify=ssl.create_default_context(cafile=certifi.where()))
    bundle = ssl.create_default_context(cafile=str(ferry.bundle))
    token = TokenIssuer(ferry.data).issue("https://ai.azure.com").value
    response = httpx.get(url, verify=bundle, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    # The bundle still holds the public CAs it was made from, and ends with Ferry's.
    text = ferry.bundle.read_text()
    assert text.count("BEGIN CERTIFICATE") > 50
    assert text.endswith((ferry.data / "tls" / "ca.pem").read_text())
    # The server certificate names the local addresses clients use.
    localhost = ferry.services["agents"].replace("127.0.0.1", "localhost")
    assert httpx.get(f"{localhost}/api/projects/p/assistants", verify=bundle).status_code == 401


def test_the_certificate_names_what_tls_name_adds(ferry: Running) -> None:
    from cryptography import x509

    names = set()
    for path in (ferry.data / "tls").glob("*.pem"):
        text = path.read_bytes()
        if b"BEGIN CERTIFICATE" not in text or path.name in ("ca.pem", "bundle.pem"):
            continue
        certificate = x509.load_pem_x509_certificate(text)
        extension = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        names |= {str(v) for v in extension.value.get_values_for_type(x509.DNSName)}
        names |= {str(v) for v in extension.value.get_values_for_type(x509.IPAddress)}
    assert {"localhost", "127.0.0.1", "::1", "ferry.test", "10.9.8.7"} <= names
