"""SharedKey strings to sign, checked against what the SDK's own signing policy produces."""

from __future__ import annotations

from urllib.parse import urlsplit

from azure.core.pipeline import PipelineRequest
from azure.core.pipeline.transport import HttpRequest
from azure.storage.queue._shared.authentication import SharedKeyCredentialPolicy
from hypothesis import given
from hypothesis import strategies as st

from ferry.queues.auth import DEV_ACCOUNT, DEV_KEY, Accounts
from ferry.queues.auth.request import SignedRequest, parse_query
from ferry.queues.auth.sharedkey import signatures_match, string_to_sign

ACCOUNT = Accounts()[DEV_ACCOUNT]


class _Context:
    transport = None


def sdk_signature(method: str, url: str, headers: dict[str, str]) -> str:
    request = HttpRequest(method, url, headers=headers)
    pipeline_request = PipelineRequest(request, _Context())  # type: ignore[arg-type]
    SharedKeyCredentialPolicy(DEV_ACCOUNT, DEV_KEY).on_request(pipeline_request)
    return request.headers["Authorization"].split(":", 1)[1]


def as_received(method: str, url: str, headers: dict[str, str]) -> SignedRequest:
    parts = urlsplit(url)
    return SignedRequest(
        method=method,
        raw_path=parts.path,
        query=parse_query(parts.query),
        headers={k.lower(): v for k, v in headers.items()},
        scheme=parts.scheme,
        client_ip="127.0.0.1",
    )


metadata = st.dictionaries(
    st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,10}", fullmatch=True),
    st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=10),
    max_size=4,
)
queries = st.dictionaries(
    st.sampled_from(["comp", "numofmessages", "visibilitytimeout", "popreceipt", "prefix"]),
    st.text(alphabet="abcXYZ09+/=%", max_size=8),
    max_size=3,
)


@given(
    method=st.sampled_from(["GET", "PUT", "POST", "DELETE"]),
    meta=metadata,
    query=queries,
    body_length=st.sampled_from(["0", "17", ""]),
)
def test_ferry_accepts_every_sdk_signature(
    method: str, meta: dict[str, str], query: dict[str, str], body_length: str
) -> None:
    from urllib.parse import quote

    url = f"http://127.0.0.1:10001/{DEV_ACCOUNT}/my-queue/messages"
    if query:
        url += "?" + "&".join(f"{k}={quote(v, safe='')}" for k, v in query.items())
    headers = {
        "x-ms-date": "Tue, 24 Nov 2026 10:07:24 GMT",
        "x-ms-version": "2026-10-06",
        "x-ms-client-request-id": "c0ffee",
        **{f"x-ms-meta-{k}": v for k, v in meta.items()},
    }
    if body_length:
        headers["Content-Length"] = body_length
        headers["Content-Type"] = "application/xml"
    signature = sdk_signature(method, url, headers)
    text = string_to_sign(as_received(method, url, headers), DEV_ACCOUNT)
    assert signatures_match(ACCOUNT, [text], signature)


def test_a_changed_header_breaks_the_signature() -> None:
    url = f"http://127.0.0.1:10001/{DEV_ACCOUNT}/q"
    headers = {"x-ms-date": "Tue, 24 Nov 2026 10:07:24 GMT", "x-ms-version": "2026-10-06"}
    signature = sdk_signature("PUT", url, headers)
    tampered = {**headers, "x-ms-version": "2026-10-07"}
    text = string_to_sign(as_received("PUT", url, tampered), DEV_ACCOUNT)
    assert not signatures_match(ACCOUNT, [text], signature)
