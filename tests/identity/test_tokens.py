"""Token issue and verification (pure logic over the data folder's key)."""

from __future__ import annotations

from pathlib import Path

import jwt
import pytest

from ferry.identity.errors import IdentityError, InvalidToken
from ferry.identity.tokens import AGENT_AUDIENCES, STORAGE_AUDIENCES, TokenIssuer, resource_of


@pytest.mark.parametrize(
    ("scope", "resource"),
    [
        ("https://storage.azure.com/.default", "https://storage.azure.com"),
        ("https://ai.azure.com/", "https://ai.azure.com"),
        ("https://ml.azure.com", "https://ml.azure.com"),
        ("https://example.com/.default", None),
        ("", None),
    ],
)
def test_resources(scope: str, resource: str | None) -> None:
    assert resource_of(scope) == resource


def test_a_token_is_good_for_its_audience_only(tmp_path: Path) -> None:
    issuer = TokenIssuer(tmp_path)
    token = issuer.issue("https://storage.azure.com/.default")
    assert issuer.verify(token.value, STORAGE_AUDIENCES)["aud"] == "https://storage.azure.com"
    with pytest.raises(InvalidToken) as refused:
        issuer.verify(token.value, AGENT_AUDIENCES)
    assert refused.value.reason == "audience"


def test_the_key_survives_a_restart_and_is_private(tmp_path: Path) -> None:
    token = TokenIssuer(tmp_path).issue("https://ai.azure.com").value
    assert TokenIssuer(tmp_path).verify(token, AGENT_AUDIENCES)["iss"]
    assert (tmp_path / "identity" / "signing-key.pem").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda issuer, other: "not-a-jwt", "malformed"),
        (lambda issuer, other: other.issue("https://ai.azure.com").value, "signature"),
        (lambda issuer, other: issuer.issue("https://ai.azure.com", now=1).value, "expired"),
        (
            lambda issuer, other: issuer.issue("https://ai.azure.com", now=4_000_000_000).value,
            "not_yet_valid",
        ),
        (
            lambda issuer, other: jwt.encode(
                {"aud": "https://ai.azure.com", "iss": "https://ferry.local/identity"},
                "a-shared-secret-of-thirty-two-bytes!",
                algorithm="HS256",
            ),
            "signature",
        ),
    ],
    ids=["malformed", "other-key", "expired", "future", "hs256"],
)
def test_bad_tokens_are_refused_with_a_reason(tmp_path: Path, make: object, reason: str) -> None:
    issuer = TokenIssuer(tmp_path / "a")
    other = TokenIssuer(tmp_path / "b")
    token = make(issuer, other)  # type: ignore[operator]
    with pytest.raises(InvalidToken) as refused:
        issuer.verify(token, AGENT_AUDIENCES)
    assert refused.value.reason == reason


def test_no_tokens_for_unknown_resources(tmp_path: Path) -> None:
    with pytest.raises(IdentityError):
        TokenIssuer(tmp_path).issue("https://evil.example.com")


def test_a_damaged_key_file_is_a_clear_error(tmp_path: Path) -> None:
    key = tmp_path / "identity" / "signing-key.pem"
    key.parent.mkdir(parents=True)
    key.write_text("not a key")
    with pytest.raises(IdentityError, match="not a signing key"):
        TokenIssuer(tmp_path)
