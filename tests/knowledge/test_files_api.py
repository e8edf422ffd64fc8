"""Files over the wire, with the real azure-ai-agents and openai clients: upload (multipart),
list, get, content, delete; on SQLite and PostgreSQL; and what a client can send wrongly."""

from __future__ import annotations

import hashlib
import http.client
import io
import os
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from azure.ai.agents.models import FilePurpose
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from tests.agents.conftest import Ferry


def test_upload_get_list_content_delete(ferry: Ferry, tmp_path: Path) -> None:
    client = ferry.agents()
    path = tmp_path / "notes.md"
    path.write_text("# Notes\n\nFerry keeps files in its database.\n")
    uploaded = client.files.upload_and_poll(file_path=str(path), purpose=FilePurpose.AGENTS)
    assert uploaded.status == "processed"
    assert uploaded.filename == "notes.md"
    assert uploaded.bytes == path.stat().st_size
    assert client.files.get(uploaded.id).as_dict() == uploaded.as_dict()
    # Bytes back as they went in.
    content = b"".join(client.files.get_content(uploaded.id))
    assert content == path.read_bytes()
    listed = [f.id for f in client.files.list(purpose=FilePurpose.AGENTS).data]
    assert uploaded.id in listed
    assert uploaded.id not in [f.id for f in client.files.list(purpose="vision").data]
    client.files.delete(uploaded.id)
    with pytest.raises(ResourceNotFoundError):
        client.files.get(uploaded.id)
    with pytest.raises(ResourceNotFoundError):
        client.files.delete(uploaded.id)


def test_a_large_file_round_trips_in_parts(ferry: Ferry) -> None:
    """Larger than several parts and than one write's worth of them (1 MB parts, four per
    transaction): the bytes and their order survive."""
    data = os.urandom(9 * 1024 * 1024 + 12345)
    client = ferry.agents()
    uploaded = client.files.upload_and_poll(
        file=io.BytesIO(data), filename="blob.bin", purpose=FilePurpose.AGENTS
    )
    assert uploaded.bytes == len(data)
    back = b"".join(client.files.get_content(uploaded.id))
    assert hashlib.sha256(back).digest() == hashlib.sha256(data).digest()
    client.files.delete(uploaded.id)


def test_files_belong_to_their_project(ferry: Ferry) -> None:
    mine = ferry.agents("demo")
    theirs = ferry.agents("other")
    uploaded = mine.files.upload_and_poll(
        file=io.BytesIO(b"secret"), filename="a.txt", purpose=FilePurpose.AGENTS
    )
    with pytest.raises(ResourceNotFoundError):
        theirs.files.get(uploaded.id)
    with pytest.raises(ResourceNotFoundError):
        b"".join(theirs.files.get_content(uploaded.id))
    with pytest.raises(ResourceNotFoundError):
        theirs.files.delete(uploaded.id)
    assert uploaded.id not in [f.id for f in theirs.files.list().data]
    assert mine.files.get(uploaded.id).id == uploaded.id


def test_paging_files(ferry: Ferry) -> None:
    client = ferry.agents("paging")
    ids = [
        client.files.upload_and_poll(
            file=io.BytesIO(b"x"), filename=f"{n}.txt", purpose=FilePurpose.AGENTS
        ).id
        for n in range(5)
    ]
    url = f"{ferry.endpoint('paging')}/files?limit=2&order=asc"
    with httpx.Client(verify=ferry.tls_context(), headers=ferry.auth()) as http:
        first = http.get(url).json()
        second = http.get(f"{url}&after={first['last_id']}").json()
    assert [f["id"] for f in first["data"]] == ids[:2]
    assert first["has_more"] is True
    assert [f["id"] for f in second["data"]] == ids[2:4]


def test_the_openai_client_uploads_at_the_v2_base(ferry: Ferry) -> None:
    from openai import OpenAI

    with httpx.Client(verify=ferry.tls_context()) as http:
        client = OpenAI(
            base_url=f"{ferry.endpoint()}/openai/v1", api_key=ferry.token(), http_client=http
        )
        uploaded = client.files.create(
            file=("facts.txt", b"The sky is blue."), purpose="assistants"
        )
        assert uploaded.filename == "facts.txt"
        assert client.files.retrieve(uploaded.id).bytes == 16
        assert client.files.content(uploaded.id).read() == b"The sky is blue."
        assert client.files.delete(uploaded.id).deleted is True


# Bad input ---------------------------------------------------------------------------------


def _post(ferry: Ferry, **kwargs: object) -> httpx.Response:
    with httpx.Client(verify=ferry.tls_context(), headers=ferry.auth()) as http:
        return http.post(f"{ferry.endpoint()}/files", **kwargs)  # type: ignore[arg-type]


def test_bad_uploads_get_400s(ferry: Ferry) -> None:
    cases = [
        _post(ferry, files={"file": ("a.txt", b"x")}),  # no purpose
        _post(ferry, data={"purpose": "assistants"}),  # no file
        _post(ferry, files={"file": ("a.txt", b"x")}, data={"purpose": "pets"}),
        _post(ferry, json={"file": "a.txt", "purpose": "assistants"}),  # not multipart
        _post(
            ferry,
            content=b'--zz\r\nContent-Disposition: form-data; name="file"\r\n\r\nbroken',
            headers={"Content-Type": "multipart/form-data; boundary=zz"},
        ),
    ]
    for response in cases:
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["type"] == "invalid_request_error"
        assert error["message"]


def test_a_file_over_the_limit_is_refused_before_it_is_read(ferry: Ferry) -> None:
    """A declared 600 MB body gets the service's 400 without Ferry reading (or storing) it."""
    parts = urlsplit(ferry.agents_url)
    conn = http.client.HTTPSConnection(
        parts.hostname or "", parts.port, context=ferry.tls_context(), timeout=10
    )
    conn.putrequest("POST", "/api/projects/demo/files")
    conn.putheader("Authorization", ferry.auth()["Authorization"])
    conn.putheader("Content-Type", "multipart/form-data; boundary=zz")
    conn.putheader("Content-Length", str(600 * 1024 * 1024))
    conn.endheaders()
    response = conn.getresponse()
    body = response.read()
    conn.close()
    assert response.status == 400
    assert b"File is too large" in body


def test_a_zero_byte_file_is_stored(ferry: Ferry) -> None:
    client = ferry.agents()
    uploaded = client.files.upload_and_poll(
        file=io.BytesIO(b""), filename="empty.txt", purpose=FilePurpose.AGENTS
    )
    assert uploaded.bytes == 0
    assert b"".join(client.files.get_content(uploaded.id)) == b""


def test_unknown_file_ids(ferry: Ferry) -> None:
    client = ferry.agents()
    for bad in ("assistant_nope", "../../etc/passwd", "x" * 300):
        with pytest.raises((ResourceNotFoundError, HttpResponseError)) as caught:
            client.files.get(bad)
        assert caught.value.status_code == 404
