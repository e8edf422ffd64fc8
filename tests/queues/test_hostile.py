"""Malformed and hostile requests over raw HTTP: each gets the service's status, error code
and XML error body, never a 5xx, and nothing stored changes.

Requests carry an account SAS made by the real SDK, so authentication is not what is tested
here (except where a test says so).
"""

from __future__ import annotations

import base64
import socket
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from email.utils import formatdate
from urllib.parse import urlsplit

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ferry.queues.auth import DEV_ACCOUNT, DEV_KEY
from ferry.queues.auth.request import SignedRequest, parse_query
from ferry.queues.auth.sharedkey import sign, string_to_sign
from ferry.spawn import Child

VERSION = "2026-10-06"
CANARIES = [f"canary {i} <&> ' OR 1=1 --" for i in range(5)]


@pytest.fixture(scope="module")
def sas(full_account_sas: str) -> str:
    return full_account_sas


class Api:
    """Raw requests against one queue service, SAS appended."""

    def __init__(self, base: str, sas: str) -> None:
        self.base = base
        self.sas = sas
        self.http = httpx.Client(timeout=10)

    def url(self, path: str, query: str = "") -> str:
        joined = "&".join(part for part in (query, self.sas) if part)
        return f"{self.base}{path}?{joined}"

    def request(
        self,
        method: str,
        path: str,
        query: str = "",
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        return self.http.request(
            method,
            self.url(path, query),
            content=body,
            headers={"x-ms-version": VERSION, **(headers or {})},
        )

    def as_owner(
        self, method: str, path: str, query: str = "", *, body: bytes = b""
    ) -> httpx.Response:
        """Signed with the account key instead of the SAS: for what only the owner may do."""
        headers = {
            "x-ms-version": VERSION,
            "x-ms-date": formatdate(usegmt=True),
            "content-length": str(len(body)),
        }
        signed = SignedRequest(
            method=method,
            raw_path=urlsplit(self.base).path + path,
            query=parse_query(query),
            headers=headers,
            scheme="http",
            client_ip=None,
        )
        signature = sign(base64.b64decode(DEV_KEY), string_to_sign(signed, DEV_ACCOUNT))
        headers["Authorization"] = f"SharedKey {DEV_ACCOUNT}:{signature}"
        url = f"{self.base}{path}" + (f"?{query}" if query else "")
        return self.http.request(method, url, content=body, headers=headers)

    def put_message(self, queue: str, text: str, query: str = "") -> httpx.Response:
        body = f"<QueueMessage><MessageText>{text}</MessageText></QueueMessage>".encode()
        return self.request("POST", f"/{queue}/messages", query, body=body)


@pytest.fixture(scope="module")
def api(queue_server: Child, sas: str) -> Iterator[Api]:
    client = Api(queue_server.url("queues"), sas)
    yield client
    client.http.close()


@pytest.fixture(scope="module")
def canary(api: Api) -> Iterator[str]:
    """A queue with known messages that every hostile request must leave exactly as it was."""
    name = f"canary{int(time.time() * 1000) % 10**9}"
    assert api.request("PUT", f"/{name}").status_code == 201
    for text in CANARIES:
        escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        assert api.put_message(name, escaped).status_code == 201
    yield name
    peek = api.request("GET", f"/{name}/messages", "peekonly=true&numofmessages=32")
    texts = [m.findtext("MessageText") for m in ET.fromstring(peek.content).iter("QueueMessage")]
    assert texts == CANARIES, "a hostile request changed stored messages"
    assert peek.status_code == 200


def assert_error(response: httpx.Response, status: int, code: str) -> ET.Element:
    assert response.status_code == status, response.text
    assert response.headers["x-ms-error-code"] == code
    assert response.headers["x-ms-request-id"]
    error = ET.fromstring(response.content)
    assert error.tag == "Error"
    assert error.findtext("Code") == code
    message = error.findtext("Message") or ""
    assert f"RequestId:{response.headers['x-ms-request-id']}" in message
    assert "\nTime:" in message
    return error


# -- XML bodies --------------------------------------------------------------------------------

XXE = b"""<?xml version="1.0"?><!DOCTYPE m [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<QueueMessage><MessageText>&x;</MessageText></QueueMessage>"""
LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
    + b"".join(
        b'<!ENTITY %c "&%c;&%c;&%c;&%c;&%c;&%c;&%c;&%c;&%c;&%c;">' % ((i,) + (i - 1,) * 10)
        for i in range(98, 108)
    )
    + b"]><QueueMessage><MessageText>&k;</MessageText></QueueMessage>"
)


@pytest.mark.parametrize(
    "body",
    [
        b"<QueueMessage><MessageText>abc",
        b"not xml at all",
        b"",
        b"<Other><MessageText>x</MessageText></Other>",
        b"<QueueMessage></QueueMessage>",
        b"<QueueMessage><MessageText>\xff\xfe</MessageText></QueueMessage>",
        b"<QueueMessage><MessageText>a\x01b</MessageText></QueueMessage>",
        XXE,
        LAUGHS,
        b"<a>" * 5000 + b"</a>" * 5000,
    ],
    ids=[
        "truncated",
        "not-xml",
        "empty",
        "wrong-root",
        "no-text",
        "bad-utf8",
        "control-char",
        "xxe",
        "billion-laughs",
        "deep-nesting",
    ],
)
def test_bad_message_bodies(api: Api, canary: str, body: bytes) -> None:
    response = api.request("POST", f"/{canary}/messages", body=body)
    error = assert_error(response, 400, "InvalidXmlDocument")
    assert "root:" not in response.text
    assert error.find("LineNumber") is not None


def test_message_text_over_64_kib(api: Api, canary: str) -> None:
    response = api.put_message(canary, "x" * (64 * 1024 + 1))
    error = assert_error(response, 413, "RequestBodyTooLarge")
    assert error.findtext("MaxLimit") == "65536"
    # Exactly 64 KiB is allowed (and removed again so the canary stays as it was).
    queue = f"{canary}big"
    api.request("PUT", f"/{queue}")
    assert api.put_message(queue, "y" * 64 * 1024).status_code == 201
    # Multi-byte characters count by their UTF-8 bytes.
    assert api.put_message(queue, "é" * (32 * 1024 + 1)).status_code == 413


def test_declared_oversized_body_is_refused_before_reading(
    queue_server: Child, sas: str, canary: str
) -> None:
    # Given a request that declares 100 MB but sends nothing,
    parts = urlsplit(queue_server.url("queues"))
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        sock.sendall(
            f"POST {parts.path}/{canary}/messages?{sas} HTTP/1.1\r\nHost: x\r\n"
            f"x-ms-version: {VERSION}\r\nContent-Length: 100000000\r\n\r\n".encode()
        )
        # then the refusal comes at once, without waiting for the body.
        answer = sock.recv(4096).decode()
    assert answer.startswith("HTTP/1.1 413")
    assert "x-ms-error-code: RequestBodyTooLarge" in answer


def test_streamed_oversized_body_is_cut_off(api: Api, canary: str) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"<QueueMessage><MessageText>"
        for _ in range(300):
            yield b"z" * 1024

    response = api.http.post(
        api.url(f"/{canary}/messages"), content=chunks(), headers={"x-ms-version": VERSION}
    )
    assert_error(response, 413, "RequestBodyTooLarge")


# -- names and paths --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("ab", "OutOfRangeInput"),
        ("a" * 64, "OutOfRangeInput"),
        ("Upper", "InvalidResourceName"),
        ("double--dash", "InvalidResourceName"),
        ("-leading", "InvalidResourceName"),
        ("trailing-", "InvalidResourceName"),
        ("semi%3Bcolon", "InvalidResourceName"),
        ("quote%27q", "InvalidResourceName"),
        ("%2E%2E%2Fetc", "InvalidResourceName"),
        ("sp%20ace", "InvalidResourceName"),
        ("%F0%9F%9A%80" * 3, "InvalidResourceName"),
    ],
)
def test_invalid_queue_names(api: Api, name: str, code: str) -> None:
    assert_error(api.request("PUT", f"/{name}"), 400, code)


@pytest.mark.parametrize("path", ["/q1/messages/id/extra", "/q1/other", "/q1/messages/a/b/c"])
def test_paths_that_name_no_resource(api: Api, path: str) -> None:
    assert_error(api.request("GET", path), 400, "InvalidUri")


def test_path_traversal_is_just_a_bad_name(queue_server: Child, sas: str) -> None:
    parts = urlsplit(queue_server.url("queues"))
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        sock.sendall(
            f"GET {parts.path}/../../etc/passwd?{sas} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        )
        answer = sock.recv(65536).decode(errors="replace")
    assert answer.split()[1] in ("400", "404")
    assert "root:" not in answer


def test_unknown_account(queue_server: Child, sas: str) -> None:
    base = queue_server.url("queues").rsplit("/", 1)[0]
    response = httpx.get(f"{base}/nosuchaccount/q1?comp=metadata&{sas}")
    assert_error(response, 404, "ResourceNotFound")


# -- query parameters -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("numofmessages=0", 400, "OutOfRangeQueryParameterValue"),
        ("numofmessages=33", 400, "OutOfRangeQueryParameterValue"),
        ("numofmessages=-1", 400, "OutOfRangeQueryParameterValue"),
        ("numofmessages=abc", 400, "InvalidQueryParameterValue"),
        ("numofmessages=1.5", 400, "InvalidQueryParameterValue"),
        ("numofmessages=99999999999999999999999", 400, "OutOfRangeQueryParameterValue"),
        ("visibilitytimeout=0", 400, "OutOfRangeQueryParameterValue"),
        ("visibilitytimeout=604801", 400, "OutOfRangeQueryParameterValue"),
        ("peekonly=maybe", 400, "InvalidQueryParameterValue"),
        ("peekonly=true&visibilitytimeout=5", 400, "InvalidQueryParameterValue"),
        ("timeout=soon", 400, "InvalidQueryParameterValue"),
    ],
)
def test_bad_get_parameters(api: Api, canary: str, query: str, status: int, code: str) -> None:
    assert_error(api.request("GET", f"/{canary}/messages", query), status, code)


def test_out_of_range_errors_name_the_parameter(api: Api, canary: str) -> None:
    error = assert_error(
        api.request("GET", f"/{canary}/messages", "numofmessages=100"),
        400,
        "OutOfRangeQueryParameterValue",
    )
    assert error.findtext("QueryParameterName") == "numofmessages"
    assert error.findtext("QueryParameterValue") == "100"
    assert (error.findtext("MinimumAllowed"), error.findtext("MaximumAllowed")) == ("1", "32")


@pytest.mark.parametrize(
    ("query", "code", "reason"),
    [
        ("messagettl=0", "InvalidQueryParameterValue", "or -1 to indicate an infinite TTL"),
        ("messagettl=-2", "InvalidQueryParameterValue", "or -1 to indicate an infinite TTL"),
        ("messagettl=x", "InvalidQueryParameterValue", None),
        (
            "messagettl=10&visibilitytimeout=10",
            "InvalidQueryParameterValue",
            "messagettl must be greater than visibilitytimeout",
        ),
        ("visibilitytimeout=604800", "InvalidQueryParameterValue", "messagettl must be greater"),
        ("visibilitytimeout=-1", "OutOfRangeQueryParameterValue", None),
    ],
)
def test_bad_put_parameters(
    api: Api, canary: str, query: str, code: str, reason: str | None
) -> None:
    error = assert_error(api.put_message(canary, "x", query), 400, code)
    if reason:
        assert reason in (error.findtext("Reason") or "")


def test_list_parameters(api: Api) -> None:
    assert_error(
        api.request("GET", "/", "comp=list&maxresults=0"), 400, "OutOfRangeQueryParameterValue"
    )
    assert_error(
        api.request("GET", "/", "comp=list&include=secrets"), 400, "InvalidQueryParameterValue"
    )
    # Above 5000 the service quietly lists 5000.
    clamped = api.request("GET", "/", "comp=list&maxresults=9999999")
    assert clamped.status_code == 200
    assert ET.fromstring(clamped.content).findtext("MaxResults") == "5000"
    hostile = api.request("GET", "/", "comp=list&prefix=%27%20OR%201%3D1%20--&marker=%25")
    assert hostile.status_code == 200
    assert list(ET.fromstring(hostile.content).iter("Queue")) == []


def test_receipts(api: Api, canary: str) -> None:
    queue = f"{canary}rcpt"
    api.request("PUT", f"/{queue}")
    sent = ET.fromstring(api.put_message(queue, "r").content).find("QueueMessage")
    assert sent is not None
    message_id, receipt = sent.findtext("MessageId"), sent.findtext("PopReceipt")
    path = f"/{queue}/messages/{message_id}"
    assert_error(api.request("DELETE", path), 400, "MissingRequiredQueryParameter")
    error = assert_error(
        api.request("DELETE", path, "popreceipt=%3C%3E"), 400, "InvalidQueryParameterValue"
    )
    assert error.findtext("Reason") == "Invalid pop receipt format"
    assert_error(
        api.request("PUT", path, f"popreceipt={receipt}"), 400, "MissingRequiredQueryParameter"
    )
    other = "AAAAAAAAAAAAAAAAAAAAAA=="
    assert_error(api.request("DELETE", path, f"popreceipt={other}"), 404, "MessageNotFound")
    missing = f"/{queue}/messages/00000000-0000-0000-0000-000000000000"
    assert_error(api.request("DELETE", missing, f"popreceipt={receipt}"), 404, "MessageNotFound")
    assert api.request("DELETE", path, f"popreceipt={receipt}").status_code == 204


# -- verbs, versions, resources --------------------------------------------------------------


def test_verbs(api: Api, canary: str) -> None:
    assert_error(api.request("POST", f"/{canary}"), 405, "UnsupportedHttpVerb")
    assert_error(api.request("PATCH", f"/{canary}/messages"), 405, "UnsupportedHttpVerb")
    assert_error(api.request("PROPFIND", f"/{canary}"), 400, "InvalidHttpVerb")
    # A verb the HTTP parser itself does not know is refused by it, before Ferry sees it.
    assert api.request("BREW", f"/{canary}").status_code == 400
    assert_error(
        api.request("GET", f"/{canary}", "comp=nonsense"), 400, "InvalidQueryParameterValue"
    )
    assert_error(
        api.request("GET", "/", "restype=other&comp=properties"), 400, "InvalidQueryParameterValue"
    )


def test_versions(api: Api, canary: str) -> None:
    future = api.request(
        "GET", f"/{canary}", "comp=metadata", headers={"x-ms-version": "2099-12-31"}
    )
    assert future.status_code == 200
    assert future.headers["x-ms-version"] == "2099-12-31"
    old = api.request("GET", f"/{canary}", "comp=metadata", headers={"x-ms-version": "2009-09-19"})
    assert old.status_code == 200
    error = assert_error(
        api.request("GET", f"/{canary}", "comp=metadata", headers={"x-ms-version": "yesterday"}),
        400,
        "InvalidHeaderValue",
    )
    assert error.findtext("HeaderName") == "x-ms-version"


def test_missing_resources(api: Api) -> None:
    assert_error(api.request("GET", "/nosuchqueue/messages"), 404, "QueueNotFound")
    assert_error(api.request("DELETE", "/nosuchqueue"), 404, "QueueNotFound")
    head = api.request("HEAD", "/nosuchqueue", "comp=metadata")
    assert head.status_code == 404
    assert head.headers["x-ms-error-code"] == "QueueNotFound"
    assert head.content == b""


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({"x-ms-meta-1bad": "v"}, "InvalidMetadata"),
        ({"x-ms-meta-has-dash": "v"}, "InvalidMetadata"),
        ({"x-ms-meta-": "v"}, "EmptyMetadataKey"),
        ({"x-ms-meta-big": "v" * 9000}, "MetadataTooLarge"),
    ],
)
def test_bad_metadata(api: Api, canary: str, headers: dict[str, str], code: str) -> None:
    assert_error(api.request("PUT", f"/{canary}", "comp=metadata", headers=headers), 400, code)


def test_metadata_values_are_stored_exactly(api: Api, canary: str) -> None:
    queue = f"{canary}meta"
    value = "'; DROP TABLE queues; -- \" <x>"
    assert api.request("PUT", f"/{queue}", headers={"x-ms-meta-note": value}).status_code == 201
    assert api.request("GET", f"/{queue}", "comp=metadata").headers["x-ms-meta-note"] == value


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (
            b"<SignedIdentifiers>"
            + b"<SignedIdentifier><Id>i%d</Id></SignedIdentifier>" * 6
            + b"</SignedIdentifiers>",
            "InvalidXmlDocument",
        ),
        (
            b"<SignedIdentifiers><SignedIdentifier><Id>p</Id><AccessPolicy><Permission>rwdl</Permission></AccessPolicy></SignedIdentifier></SignedIdentifiers>",
            "InvalidXmlDocument",
        ),
        (
            b"<SignedIdentifiers><SignedIdentifier><Id>p</Id><AccessPolicy><Expiry>tomorrow</Expiry></AccessPolicy></SignedIdentifier></SignedIdentifiers>",
            "InvalidXmlNodeValue",
        ),
        (
            b"<SignedIdentifiers><SignedIdentifier><Id>"
            + b"x" * 65
            + b"</Id></SignedIdentifier></SignedIdentifiers>",
            "InvalidXmlNodeValue",
        ),
        (b"<SignedIdentifiers><Wrong/></SignedIdentifiers>", "InvalidXmlDocument"),
        (b"<SignedIdentifiers>", "InvalidXmlDocument"),
    ],
)
def test_bad_access_policies(api: Api, canary: str, body: bytes, code: str) -> None:
    if b"%d" in body:
        body = b"".join(
            part % i if b"%d" in part else part
            for i, part in enumerate(body.split(b"</SignedIdentifier>"))
        )
    assert_error(api.as_owner("PUT", f"/{canary}", "comp=acl", body=body), 400, code)


CORS_RULE = (
    b"<CorsRule><AllowedOrigins>*</AllowedOrigins><AllowedMethods>GET</AllowedMethods>"
    b"<MaxAgeInSeconds>1</MaxAgeInSeconds></CorsRule>"
)


@pytest.mark.parametrize(
    "body",
    [
        b"<StorageServiceProperties><Cors>" + CORS_RULE * 6 + b"</Cors></StorageServiceProperties>",
        b"<StorageServiceProperties><Logging><Read>maybe</Read></Logging>"
        b"</StorageServiceProperties>",
        b"<StorageServiceProperties><HourMetrics><RetentionPolicy><Enabled>true</Enabled>"
        b"<Days>0</Days></RetentionPolicy></HourMetrics></StorageServiceProperties>",
        b"<StorageServiceProperties><Cors>"
        + CORS_RULE.replace(b">GET<", b">TELEPORT<")
        + b"</Cors></StorageServiceProperties>",
        b"<Nope/>",
    ],
)
def test_bad_service_properties(api: Api, body: bytes) -> None:
    before = api.request("GET", "/", "restype=service&comp=properties").content
    response = api.request("PUT", "/", "restype=service&comp=properties", body=body)
    assert response.status_code == 400
    assert response.headers["x-ms-error-code"] in ("InvalidXmlDocument", "InvalidXmlNodeValue")
    assert api.request("GET", "/", "restype=service&comp=properties").content == before


# -- authentication --------------------------------------------------------------------------


def test_anonymous_gets_a_bearer_challenge(queue_server: Child, canary: str) -> None:
    response = httpx.get(f"{queue_server.url('queues')}/{canary}/messages?peekonly=true")
    assert_error(response, 401, "NoAuthenticationInformation")
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")


@pytest.mark.parametrize(
    "authorization",
    [
        "SharedKey devstoreaccount1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "SharedKey devstoreaccount1",
        "SharedKey otheraccount:AAAA",
        "SharedKey",
        "Basic dXNlcjpwYXNz",
        "Bearer not-a-token",
    ],
)
def test_forged_authorization(queue_server: Child, canary: str, authorization: str) -> None:
    response = httpx.get(
        f"{queue_server.url('queues')}/{canary}/messages?peekonly=true",
        headers={
            "Authorization": authorization,
            "x-ms-date": time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime()),
            "x-ms-version": VERSION,
        },
    )
    assert_error(response, 403, "AuthenticationFailed")


@pytest.mark.parametrize(
    "tamper",
    [
        lambda sas: sas.replace("sp=rwdlacup", "sp=rwdlacupx"),
        lambda sas: sas.replace("sig=", "sig=A"),
        lambda sas: sas + "&st=2099-01-01T00%3A00%3A00Z",
        lambda sas: sas.replace("se=", "se=1"),
    ],
    ids=["permissions", "signature", "start", "expiry"],
)
def test_tampered_sas(queue_server: Child, sas: str, canary: str, tamper: object) -> None:
    forged = tamper(sas)  # type: ignore[operator]
    response = httpx.get(f"{queue_server.url('queues')}/{canary}/messages?peekonly=true&{forged}")
    assert_error(response, 403, "AuthenticationFailed")


# -- fuzzing ----------------------------------------------------------------------------------


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    method=st.sampled_from(["GET", "PUT", "POST", "DELETE", "HEAD", "OPTIONS", "MERGE"]),
    path=st.sampled_from(["/", "/{q}", "/{q}/messages", "/{q}/messages/{m}", "/{q}/x/y"]),
    query=st.lists(
        st.tuples(
            st.sampled_from(
                [
                    "comp",
                    "restype",
                    "numofmessages",
                    "visibilitytimeout",
                    "messagettl",
                    "popreceipt",
                    "peekonly",
                    "prefix",
                    "marker",
                    "maxresults",
                    "include",
                    "timeout",
                    "x",
                ]
            ),
            st.text(max_size=12),
        ),
        max_size=4,
    ),
    body=st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode)),
)
def test_fuzzed_requests_never_fail_the_server(
    api: Api, canary: str, method: str, path: str, query: list[tuple[str, str]], body: bytes
) -> None:
    target = path.format(q=f"{canary}fz", m="00000000-0000-0000-0000-000000000000")
    response = api.request(method, target, str(httpx.QueryParams(query)), body=body)
    assert response.status_code < 500, response.text
