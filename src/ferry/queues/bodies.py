"""The queue protocol's XML bodies: rendering responses, and parsing untrusted requests with
defusedxml (no DTDs, no entities)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from typing import Any

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from ferry.queues.errors import InvalidXmlDocument, InvalidXmlNodeValue
from ferry.queues.models import AccessPolicy, Message, QueueListing
from ferry.queues.times import parse_iso8601, rfc1123
from ferry.types import JSONObject

__all__ = [
    "DECLARATION",
    "default_service_properties",
    "escape",
    "merge_service_properties",
    "parse_message_text",
    "parse_service_properties",
    "parse_signed_identifiers",
    "render_messages",
    "render_queue_list",
    "render_service_properties",
    "render_signed_identifiers",
]

DECLARATION = '<?xml version="1.0" encoding="utf-8"?>'
MAX_SIGNED_IDENTIFIERS = 5
MAX_CORS_RULES = 5

_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#xD;"})


def escape(text: str) -> str:
    """Element text; carriage returns are escaped so they survive the client's XML parser."""
    return text.translate(_ESCAPES)


def _parse(body: bytes) -> ET.Element:
    if not body.strip():
        raise InvalidXmlDocument(None, LineNumber="0", LinePosition="0", Reason="Empty body")
    try:
        root: ET.Element = SafeET.fromstring(body)
    except ET.ParseError as exc:
        line, column = exc.position
        raise InvalidXmlDocument(
            None, LineNumber=str(line), LinePosition=str(column), Reason=str(exc)
        ) from None
    except (DefusedXmlException, ValueError) as exc:
        reason = f"{type(exc).__name__}: DTDs and entities are not allowed"
        raise InvalidXmlDocument(None, LineNumber="0", LinePosition="0", Reason=reason) from None
    return root


def _invalid(reason: str) -> InvalidXmlDocument:
    """A well-formed document with the wrong content, as the service reports it."""
    return InvalidXmlDocument(None, LineNumber="0", LinePosition="0", Reason=reason)


def _text(element: ET.Element | None) -> str | None:
    return None if element is None else (element.text or "")


# -- messages ------------------------------------------------------------------------------


# The plain body every SDK sends for a put: no entities, markup, carriage returns or characters
# XML forbids in the text, and a declaration that says UTF-8 if it says anything. Such a body
# means exactly its text, so it skips the parser; everything else goes through defusedxml.
_PLAIN_MESSAGE = re.compile(
    rb"""(?:<\?xml[ \t\r\n]+version[ \t\r\n]*=[ \t\r\n]*["']1\.0["']"""
    rb"""(?:[ \t\r\n]+encoding[ \t\r\n]*=[ \t\r\n]*["'](?i:utf-8)["'])?[ \t\r\n]*\?>)?"""
    rb"[ \t\r\n]*<QueueMessage>[ \t\r\n]*"
    rb"<MessageText>([^<&\r\x00-\x08\x0b\x0c\x0e-\x1f]*)</MessageText>"
    rb"[ \t\r\n]*</QueueMessage>[ \t\r\n]*"
)


def parse_message_text(body: bytes) -> str:
    """The text of `<QueueMessage><MessageText>…</MessageText></QueueMessage>`."""
    plain = _PLAIN_MESSAGE.fullmatch(body)
    if plain is not None:
        try:
            return plain.group(1).decode("utf-8")
        except UnicodeDecodeError:
            pass  # let the parser report it
    root = _parse(body)
    text = _text(root.find("MessageText")) if root.tag == "QueueMessage" else None
    if text is None:
        raise _invalid("Invalid envelope for the message")
    return text


def render_messages(messages: Iterable[Message], *, received: bool, put: bool = False) -> str:
    """A `QueueMessagesList`: put results (no text), received messages, or peeked ones
    (no receipt, no next-visible time)."""
    parts = [DECLARATION, "<QueueMessagesList>"]
    for m in messages:
        parts.append(
            f"<QueueMessage><MessageId>{m.message_id}</MessageId>"
            f"<InsertionTime>{rfc1123(m.inserted_at)}</InsertionTime>"
            f"<ExpirationTime>{rfc1123(m.expires_at)}</ExpirationTime>"
        )
        if received or put:
            parts.append(
                f"<PopReceipt>{escape(m.pop_receipt or '')}</PopReceipt>"
                f"<TimeNextVisible>{rfc1123(m.visible_at)}</TimeNextVisible>"
            )
        if not put:
            parts.append(
                f"<DequeueCount>{m.dequeue_count}</DequeueCount>"
                f"<MessageText>{escape(m.text)}</MessageText>"
            )
        parts.append("</QueueMessage>")
    parts.append("</QueueMessagesList>")
    return "".join(parts)


# -- queues --------------------------------------------------------------------------------


def render_queue_list(
    listing: QueueListing,
    *,
    endpoint: str,
    prefix: str | None,
    marker: str | None,
    max_results: int | None,
    with_metadata: bool,
    next_marker: str,
) -> str:
    parts = [DECLARATION, f'<EnumerationResults ServiceEndpoint="{escape(endpoint)}">']
    if prefix is not None:
        parts.append(f"<Prefix>{escape(prefix)}</Prefix>")
    if marker is not None:
        parts.append(f"<Marker>{escape(marker)}</Marker>")
    if max_results is not None:
        parts.append(f"<MaxResults>{max_results}</MaxResults>")
    parts.append("<Queues>")
    for queue in listing.queues:
        parts.append(f"<Queue><Name>{queue.name}</Name>")
        if with_metadata:
            parts.append("<Metadata>")
            parts.extend(f"<{k}>{escape(v)}</{k}>" for k, v in queue.metadata.items())
            parts.append("</Metadata>")
        parts.append("</Queue>")
    parts.append("</Queues>")
    parts.append(f"<NextMarker>{escape(next_marker)}</NextMarker>")
    parts.append("</EnumerationResults>")
    return "".join(parts)


# -- access policies -----------------------------------------------------------------------


def parse_signed_identifiers(body: bytes) -> list[AccessPolicy]:
    if not body.strip():
        return []
    root = _parse(body)
    if root.tag != "SignedIdentifiers":
        raise _invalid(f"Unexpected root element <{root.tag}>")
    policies = []
    for item in root:
        if item.tag != "SignedIdentifier":
            raise _invalid(f"Unexpected element <{item.tag}> in <SignedIdentifiers>")
        identifier = _text(item.find("Id")) or ""
        if not identifier or len(identifier) > 64:
            raise InvalidXmlNodeValue("A signed identifier's Id must be 1-64 characters.")
        policy = item.find("AccessPolicy")
        start = _time_node(policy, "Start")
        expiry = _time_node(policy, "Expiry")
        permission = _text(policy.find("Permission")) if policy is not None else None
        if permission is not None and (
            set(permission) - set("raup") or len(set(permission)) != len(permission)
        ):
            raise _invalid("")
        policies.append(AccessPolicy(identifier, start, expiry, permission or None))
    if len(policies) > MAX_SIGNED_IDENTIFIERS:
        raise _invalid("At most 5 signed identifier is allowed in the request body")
    if len({p.id for p in policies}) != len(policies):
        raise _invalid("Signed identifiers must have distinct Ids")
    return policies


def _time_node(policy: ET.Element | None, tag: str) -> str | None:
    value = _text(policy.find(tag)) if policy is not None else None
    if not value:
        return None
    try:
        parse_iso8601(value)
    except ValueError:
        raise InvalidXmlNodeValue(f"{tag} {value!r} is not an ISO 8601 time.") from None
    return value.strip()


def render_signed_identifiers(policies: Iterable[AccessPolicy]) -> str:
    parts = [DECLARATION, "<SignedIdentifiers>"]
    for p in policies:
        parts.append(f"<SignedIdentifier><Id>{escape(p.id)}</Id>")
        fields = [("Start", p.start), ("Expiry", p.expiry), ("Permission", p.permission)]
        if any(value for _, value in fields):
            # Fields never set are left out, and so is an AccessPolicy with none set.
            parts.append("<AccessPolicy>")
            parts.extend(f"<{tag}>{escape(value)}</{tag}>" for tag, value in fields if value)
            parts.append("</AccessPolicy>")
        parts.append("</SignedIdentifier>")
    parts.append("</SignedIdentifiers>")
    return "".join(parts)


# -- service properties --------------------------------------------------------------------
# Kept as a JSON object shaped like the XML: {"Logging": {...}, "HourMetrics": {...},
# "MinuteMetrics": {...}, "Cors": [rule, ...]}, each leaf a string as it appears in the XML.

_RETENTION_OFF: JSONObject = {"Enabled": "false"}


def default_service_properties() -> JSONObject:
    metrics: JSONObject = {"Version": "1.0", "Enabled": "false", "RetentionPolicy": _RETENTION_OFF}
    return {
        "Logging": {
            "Version": "1.0",
            "Delete": "false",
            "Read": "false",
            "Write": "false",
            "RetentionPolicy": _RETENTION_OFF,
        },
        "HourMetrics": dict(metrics),
        "MinuteMetrics": dict(metrics),
        "Cors": [],
    }


_BOOL_FIELDS = {"Delete", "Read", "Write", "Enabled", "IncludeAPIs"}
# Field order as the service writes them back.
_SECTION_FIELDS = {
    "Logging": ("Version", "Read", "Write", "Delete", "RetentionPolicy"),
    "HourMetrics": ("Version", "Enabled", "IncludeAPIs", "RetentionPolicy"),
    "MinuteMetrics": ("Version", "Enabled", "IncludeAPIs", "RetentionPolicy"),
}
_CORS_FIELDS = (
    "AllowedMethods",
    "AllowedOrigins",
    "AllowedHeaders",
    "ExposedHeaders",
    "MaxAgeInSeconds",
)
# Sections other storage services use; the queue service accepts and ignores them.
_IGNORED_SECTIONS = {"DefaultServiceVersion", "DeleteRetentionPolicy", "StaticWebsite"}
_CORS_METHODS = {"DELETE", "GET", "HEAD", "MERGE", "POST", "OPTIONS", "PUT", "PATCH"}


def parse_service_properties(body: bytes) -> JSONObject:
    """The sections present in a `StorageServiceProperties` document (absent ones stay as they
    are when merged)."""
    root = _parse(body)
    if root.tag != "StorageServiceProperties":
        raise _invalid(f"Unexpected root element <{root.tag}>")
    parsed: JSONObject = {}
    for section in root:
        if section.tag in _SECTION_FIELDS:
            parsed[section.tag] = _parse_section(section)
        elif section.tag == "Cors":
            parsed["Cors"] = _parse_cors(section)
        elif section.tag not in _IGNORED_SECTIONS:
            raise _invalid(f"Unexpected element <{section.tag}>")
    return parsed


def _parse_section(section: ET.Element) -> JSONObject:
    values: JSONObject = {}
    for child in section:
        if child.tag not in _SECTION_FIELDS[section.tag]:
            raise _invalid(f"Unexpected element <{child.tag}> in <{section.tag}>")
        if child.tag == "RetentionPolicy":
            values["RetentionPolicy"] = _parse_retention(child)
        else:
            values[child.tag] = _leaf(child)
    return values


def _parse_retention(element: ET.Element) -> JSONObject:
    enabled = _bool_leaf(element.find("Enabled"), "Enabled")
    policy: JSONObject = {"Enabled": enabled}
    days = _text(element.find("Days"))
    if enabled == "true":
        if not days or not days.strip().isdigit() or not 1 <= int(days) <= 365:
            raise InvalidXmlNodeValue("RetentionPolicy Days must be 1-365 when it is enabled.")
        policy["Days"] = str(int(days))
    return policy


def _parse_cors(element: ET.Element) -> list[Any]:
    rules: list[Any] = []
    for rule in element:
        if rule.tag != "CorsRule":
            raise _invalid(f"Unexpected element <{rule.tag}> in <Cors>")
        values = {tag: (_text(rule.find(tag)) or "").strip() for tag in _CORS_FIELDS}
        methods = {m.strip().upper() for m in values["AllowedMethods"].split(",") if m.strip()}
        if not values["AllowedOrigins"] or not methods or methods - _CORS_METHODS:
            raise InvalidXmlNodeValue("A CORS rule needs origins and known methods.")
        if not values["MaxAgeInSeconds"].isdigit():
            raise InvalidXmlNodeValue("A CORS rule's MaxAgeInSeconds must be a whole number.")
        rules.append(values)
    if len(rules) > MAX_CORS_RULES:
        raise _invalid("At most 5 CORS rules are allowed")
    return rules


def _leaf(element: ET.Element) -> str:
    if element.tag in _BOOL_FIELDS:
        return _bool_leaf(element, element.tag)
    return (element.text or "").strip()


def _bool_leaf(element: ET.Element | None, tag: str) -> str:
    value = (_text(element) or "").strip().lower()
    if value not in ("true", "false"):
        raise InvalidXmlNodeValue(f"<{tag}> must be true or false.")
    return value


def merge_service_properties(current: JSONObject, update: JSONObject) -> JSONObject:
    merged = dict(current)
    for section, values in update.items():
        if section == "Cors":
            merged["Cors"] = values
        else:
            base = merged.get(section)
            combined = dict(base) if isinstance(base, dict) else {}
            assert isinstance(values, dict)
            combined.update(values)
            merged[section] = combined
    return merged


def render_service_properties(properties: JSONObject) -> str:
    parts = [DECLARATION, "<StorageServiceProperties>"]
    for section in ("Logging", "HourMetrics", "MinuteMetrics"):
        values = properties.get(section)
        if isinstance(values, dict):
            parts.append(f"<{section}>")
            for field in _SECTION_FIELDS[section]:
                value = values.get(field)
                if isinstance(value, dict):
                    parts.append(f"<{field}>")
                    parts.extend(f"<{k}>{escape(str(v))}</{k}>" for k, v in value.items())
                    parts.append(f"</{field}>")
                elif value is not None:
                    parts.append(f"<{field}>{escape(str(value))}</{field}>")
            parts.append(f"</{section}>")
    parts.append("<Cors>")
    rules = properties.get("Cors")
    for rule in rules if isinstance(rules, list) else []:
        assert isinstance(rule, dict)
        parts.append("<CorsRule>")
        parts.extend(f"<{k}>{escape(str(rule.get(k, '')))}</{k}>" for k in _CORS_FIELDS)
        parts.append("</CorsRule>")
    parts.append("</Cors></StorageServiceProperties>")
    return "".join(parts)


def render_service_stats(now_millis: int) -> str:
    return (
        f"{DECLARATION}<StorageServiceStats><GeoReplication><Status>live</Status>"
        f"<LastSyncTime>{rfc1123(now_millis)}</LastSyncTime></GeoReplication>"
        "</StorageServiceStats>"
    )
