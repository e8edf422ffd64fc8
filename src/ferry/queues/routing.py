"""Which operation a request names, and what a SAS needs to be allowed it.

The queue protocol names an operation by the resource in the path (account, queue, its
messages, one message), the HTTP verb, and the `comp`/`restype` query parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from urllib.parse import unquote

from ferry.queues.auth.sas import Access
from ferry.queues.call import Handler
from ferry.queues.errors import (
    InvalidHttpVerb,
    InvalidQueryParameterValue,
    InvalidUri,
    UnsupportedHttpVerb,
)
from ferry.queues.handlers import messages, queue, service

__all__ = ["Level", "Operation", "Target", "resolve", "split_path"]


class Level(Enum):
    SERVICE = "service"
    QUEUE = "queue"
    MESSAGES = "messages"
    MESSAGE = "message"


@dataclass(frozen=True, slots=True)
class Target:
    level: Level
    queue: str | None = None
    message_id: str | None = None


@dataclass(frozen=True, slots=True)
class Operation:
    name: str
    handler: Handler
    access: Access
    max_body: int = 0
    """Largest request body read (the service's own limits); 0: the body is not read."""


MESSAGE_BODY_LIMIT = 131_584
"""128.5 KiB: room for a 64 KiB message with some characters escaped."""
ACL_BODY_LIMIT = 10_000
PROPERTIES_BODY_LIMIT = 64 * 1024


def _op(
    name: str,
    handler: Handler,
    resource_type: str,
    account_permissions: str,
    queue_permission: str | None,
    *,
    max_body: int = 0,
) -> Operation:
    return Operation(
        name,
        handler,
        Access(resource_type, account_permissions, queue_permission),
        max_body,
    )


# (level, verb, comp) → operation; HEAD shares GET's entries.
_OPERATIONS: Mapping[tuple[Level, str, str | None], Operation] = {
    (Level.SERVICE, "GET", "list"): _op("ListQueues", service.list_queues, "s", "l", None),
    (Level.SERVICE, "GET", "properties"): _op(
        "GetServiceProperties", service.get_properties, "s", "r", None
    ),
    (Level.SERVICE, "PUT", "properties"): _op(
        "SetServiceProperties",
        service.set_properties,
        "s",
        "w",
        None,
        max_body=PROPERTIES_BODY_LIMIT,
    ),
    (Level.SERVICE, "GET", "stats"): _op("GetServiceStats", service.get_stats, "s", "r", None),
    (Level.QUEUE, "PUT", None): _op("CreateQueue", queue.create, "c", "cw", None),
    (Level.QUEUE, "DELETE", None): _op("DeleteQueue", queue.delete, "c", "d", None),
    (Level.QUEUE, "GET", "metadata"): _op("GetQueueMetadata", queue.get_metadata, "c", "r", "r"),
    (Level.QUEUE, "PUT", "metadata"): _op("SetQueueMetadata", queue.set_metadata, "c", "w", None),
    # Stored access policies are the account owner's alone: no SAS may read or change them.
    (Level.QUEUE, "GET", "acl"): _op("GetQueueACL", queue.get_acl, "c", "", ""),
    (Level.QUEUE, "PUT", "acl"): _op(
        "SetQueueACL", queue.set_acl, "c", "", "", max_body=ACL_BODY_LIMIT
    ),
    (Level.MESSAGES, "POST", None): _op(
        "PutMessage", messages.put, "o", "a", "a", max_body=MESSAGE_BODY_LIMIT
    ),
    (Level.MESSAGES, "GET", None): _op("GetMessages", messages.get, "o", "p", "p"),
    (Level.MESSAGES, "DELETE", None): _op("ClearMessages", messages.clear, "o", "d", "p"),
    (Level.MESSAGE, "PUT", None): _op(
        "UpdateMessage", messages.update, "o", "u", "u", max_body=MESSAGE_BODY_LIMIT
    ),
    (Level.MESSAGE, "DELETE", None): _op("DeleteMessage", messages.delete, "o", "p", "p"),
}

_PEEK = _op("PeekMessages", messages.get, "o", "r", "r")
_VERBS = {key[:2] for key in _OPERATIONS} | {
    (key[0], "HEAD") for key in _OPERATIONS if key[1] == "GET"
}


def split_path(raw_path: str) -> tuple[str, list[str]]:
    """The account and the decoded path segments after it (a trailing slash is ignored)."""
    parts = raw_path.split("/")[1:]
    if parts and parts[-1] == "":
        parts.pop()
    decoded = [unquote(part) for part in parts]
    return (decoded[0] if decoded else ""), decoded[1:]


def target_of(segments: list[str]) -> Target:
    if not segments:
        return Target(Level.SERVICE)
    if len(segments) == 1:
        return Target(Level.QUEUE, segments[0])
    if segments[1] == "messages" and len(segments) in (2, 3):
        return Target(
            Level.MESSAGES if len(segments) == 2 else Level.MESSAGE,
            segments[0],
            segments[2] if len(segments) == 3 else None,
        )
    raise InvalidUri()


KNOWN_VERBS = frozenset({"GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS", "MERGE", "PATCH"})


def resolve(target: Target, method: str, query: Mapping[str, str]) -> Operation:
    if method not in KNOWN_VERBS:
        raise InvalidHttpVerb()
    verb = "GET" if method == "HEAD" else method
    comp = query.get("comp")
    if target.level is Level.SERVICE and comp in ("properties", "stats"):
        restype = query.get("restype")
        if restype != "service":
            raise InvalidQueryParameterValue("restype", restype or "")
    operation = _OPERATIONS.get((target.level, verb, comp))
    if operation is not None:
        if operation.name == "GetMessages" and query.get("peekonly", "").lower() == "true":
            return _PEEK
        return operation
    if (target.level, method) not in _VERBS:
        raise UnsupportedHttpVerb()
    raise InvalidQueryParameterValue("comp", comp or "")
