"""A small asynchronous client of the queue protocol, for Ferry's own use (the CLI, and any
part that talks to a queue service it does not share a store with: Azurite, Azure Storage).

It signs with SharedKey (or appends a SAS) and raises only `QueueEndpointError`s: httpx's
errors are mapped here, refusals by status (`ferry.queues.errors.endpoint_refusal`, the rule
the SDK boundary uses too), with the service's error code.
"""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import quote, urlsplit

import defusedxml.ElementTree as SafeET
import httpx

from ferry.clock import system_clock, to_millis
from ferry.queues.auth.accounts import Account
from ferry.queues.auth.request import SignedRequest, parse_query
from ferry.queues.auth.sharedkey import sign, string_to_sign
from ferry.queues.bodies import escape
from ferry.queues.connection import QueueConnection
from ferry.queues.errors import (
    EndpointProtocolError,
    EndpointUnavailable,
    QueueEndpointError,
    endpoint_refusal,
)
from ferry.queues.models import Message, QueueInfo
from ferry.queues.times import rfc1123

__all__ = ["QueueClient"]

API_VERSION = "2026-10-06"


@dataclass
class QueueClient:
    connection: QueueConnection
    timeout: float = 30.0

    def __post_init__(self) -> None:
        self._http = httpx.AsyncClient(timeout=self.timeout)
        key = self.connection.key
        self._account = Account(self.connection.account, (base64.b64decode(key),)) if key else None

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> QueueClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    # -- operations -------------------------------------------------------------------------

    async def list_queues(self, prefix: str = "") -> list[QueueInfo]:
        queues: list[QueueInfo] = []
        marker = ""
        while True:
            params = {"comp": "list", "include": "metadata"}
            if prefix:
                params["prefix"] = prefix
            if marker:
                params["marker"] = marker
            root = _xml(await self._send("GET", "/", params))
            for item in root.iter("Queue"):
                metadata = {child.tag: child.text or "" for child in item.findall("Metadata/*")}
                queues.append(QueueInfo(item.findtext("Name") or "", metadata))
            marker = root.findtext("NextMarker") or ""
            if not marker:
                return queues

    async def create_queue(self, name: str) -> bool:
        """True if created, False if it already existed."""
        response = await self._send("PUT", f"/{quote(name)}")
        return response.status_code == 201

    async def delete_queue(self, name: str) -> None:
        await self._send("DELETE", f"/{quote(name)}")

    async def get_queue(self, name: str) -> QueueInfo:
        response = await self._send("GET", f"/{quote(name)}", {"comp": "metadata"})
        metadata = {
            key[len("x-ms-meta-") :]: value
            for key, value in response.headers.items()
            if key.lower().startswith("x-ms-meta-")
        }
        count = int(response.headers.get("x-ms-approximate-messages-count", "0"))
        return QueueInfo(name, metadata, count)

    async def put_message(
        self, name: str, text: str, *, visibility_timeout: int = 0, ttl: int | None = None
    ) -> Message:
        params = {"visibilitytimeout": str(visibility_timeout)}
        if ttl is not None:
            params["messagettl"] = str(ttl)
        body = f"<QueueMessage><MessageText>{escape(text)}</MessageText></QueueMessage>"
        response = await self._send("POST", f"/{quote(name)}/messages", params, body)
        return _messages(response, text)[0]

    async def get_messages(
        self, name: str, *, count: int = 1, visibility_timeout: int = 30
    ) -> list[Message]:
        params = {"numofmessages": str(count), "visibilitytimeout": str(visibility_timeout)}
        return _messages(await self._send("GET", f"/{quote(name)}/messages", params))

    async def peek_messages(self, name: str, *, count: int = 1) -> list[Message]:
        params = {"numofmessages": str(count), "peekonly": "true"}
        return _messages(await self._send("GET", f"/{quote(name)}/messages", params))

    async def delete_message(self, name: str, message_id: str, pop_receipt: str) -> None:
        path = f"/{quote(name)}/messages/{quote(message_id)}"
        await self._send("DELETE", path, {"popreceipt": pop_receipt})

    async def clear_messages(self, name: str) -> None:
        await self._send("DELETE", f"/{quote(name)}/messages")

    # -- transport --------------------------------------------------------------------------

    async def _send(
        self, method: str, path: str, params: dict[str, str] | None = None, body: str = ""
    ) -> httpx.Response:
        url = f"{self.connection.endpoint}{path}"
        query = "&".join(
            f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in (params or {}).items()
        )
        if self.connection.sas:
            query = f"{query}&{self.connection.sas}" if query else self.connection.sas
        if query:
            url = f"{url}?{query}"
        content = body.encode("utf-8")
        headers = {
            "x-ms-version": API_VERSION,
            "x-ms-date": rfc1123(system_clock()),
        }
        if content:
            headers["Content-Type"] = "application/xml"
        request = self._http.build_request(method, url, content=content, headers=headers)
        if self._account is not None and not self.connection.sas:
            request.headers["Authorization"] = self._authorization(request)
        try:
            response = await self._http.send(request)
        except httpx.TransportError as exc:  # connect, read, write, pool, protocol, timeout
            raise EndpointUnavailable(f"cannot reach the queue service at {url}: {exc}") from None
        except httpx.HTTPError as exc:  # an answer that cannot be decoded, redirects
            raise EndpointProtocolError(f"the queue service at {url}: {exc}") from None
        if response.status_code >= 400:
            raise _refusal(response)
        return response

    def _authorization(self, request: httpx.Request) -> str:
        assert self._account is not None
        parts = urlsplit(str(request.url))
        signed = SignedRequest(
            method=request.method,
            raw_path=request.url.raw_path.decode("ascii").split("?", 1)[0],
            query=parse_query(parts.query),
            headers={k.lower(): v for k, v in request.headers.items()},
            scheme=parts.scheme,
            client_ip=None,
        )
        signature = sign(self._account.keys[0], string_to_sign(signed, self._account.name))
        return f"SharedKey {self._account.name}:{signature}"


def _xml(response: httpx.Response) -> ET.Element:
    try:
        root: ET.Element = SafeET.fromstring(response.content)
    except Exception as exc:
        raise EndpointProtocolError(f"the queue service sent malformed XML: {exc}") from None
    return root


def _time(value: str | None) -> int:
    return to_millis(parsedate_to_datetime(value)) if value else 0


def _messages(response: httpx.Response, text: str | None = None) -> list[Message]:
    return [
        Message(
            message_id=item.findtext("MessageId") or "",
            inserted_at=_time(item.findtext("InsertionTime")),
            expires_at=_time(item.findtext("ExpirationTime")),
            visible_at=_time(item.findtext("TimeNextVisible")),
            dequeue_count=int(item.findtext("DequeueCount") or 0),
            pop_receipt=item.findtext("PopReceipt"),
            text=item.findtext("MessageText") if text is None else text,  # type: ignore[arg-type]
        )
        for item in _xml(response).iter("QueueMessage")
    ]


def _refusal(response: httpx.Response) -> QueueEndpointError:
    code = response.headers.get("x-ms-error-code")
    message = ""
    if response.content:
        try:
            message = (_xml(response).findtext("Message") or "").split("\nRequestId:")[0]
        except EndpointProtocolError:
            message = response.text[:200]
    return endpoint_refusal(
        response.status_code, code, f"{response.status_code} {code or ''}: {message}".strip()
    )
