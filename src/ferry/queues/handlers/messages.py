"""Message operations: put, get, peek, update, delete and clear."""

from __future__ import annotations

from starlette.responses import Response

from ferry.queues import bodies
from ferry.queues.call import Call
from ferry.queues.errors import (
    InvalidQueryParameterValue,
    MissingRequiredQueryParameter,
    OutOfRangeQueryParameterValue,
    RequestBodyTooLarge,
)
from ferry.queues.params import MAX_MESSAGE_BYTES, MAX_TTL, MAX_VISIBILITY, bool_param, int_param
from ferry.queues.times import rfc1123
from ferry.queues.wire import empty, xml

__all__ = ["clear", "delete", "get", "put", "update"]

DEFAULT_TTL = 7 * 24 * 3600
UNBOUNDED_TTL_SINCE = "2017-07-29"
"""The version that lifted the 7-day limit on `messagettl` and brought -1 (never expires)."""
MAX_BATCH = 32


def _message_text(call: Call) -> str:
    text = bodies.parse_message_text(call.body)
    if len(text.encode("utf-8")) > MAX_MESSAGE_BYTES:
        raise RequestBodyTooLarge(MAX_MESSAGE_BYTES)
    return text


async def put(call: Call) -> Response:
    ttl = _ttl(call)
    visibility = int_param(call.query, "visibilitytimeout", 0, 0, MAX_VISIBILITY)
    if ttl != -1 and ttl <= visibility:
        raise InvalidQueryParameterValue(
            "visibilitytimeout",
            call.query.get("visibilitytimeout", "0"),
            "messagettl must be greater than visibilitytimeout",
        )
    text = _message_text(call)
    message = await call.store.put_message(
        call.account, call.queue_name, text, visibility_timeout=visibility, ttl=ttl
    )
    return xml(bodies.render_messages([message], received=False, put=True), 201)


def _ttl(call: Call) -> int:
    """Seconds to live: 7 days when not given. From version 2017-07-29 any positive number up
    to MAX_TTL, or -1 for never; before it, 1 second to 7 days."""
    raw = call.query.get("messagettl")
    if raw is None:
        return DEFAULT_TTL
    try:
        ttl = int(raw, 10)
    except ValueError:
        raise InvalidQueryParameterValue("messagettl", raw) from None
    if call.version < UNBOUNDED_TTL_SINCE:
        if not 1 <= ttl <= DEFAULT_TTL:
            raise OutOfRangeQueryParameterValue("messagettl", raw, 1, DEFAULT_TTL)
        return ttl
    if ttl == 0 or ttl < -1:
        raise InvalidQueryParameterValue(
            "messagettl",
            raw,
            "Value must be greater than or equal to 1, or -1 to indicate an infinite TTL.",
        )
    if ttl > MAX_TTL:
        raise OutOfRangeQueryParameterValue("messagettl", raw, -1, MAX_TTL)
    return ttl


async def get(call: Call) -> Response:
    count = int_param(call.query, "numofmessages", 1, 1, MAX_BATCH)
    if bool_param(call.query, "peekonly"):
        if "visibilitytimeout" in call.query:
            raise InvalidQueryParameterValue(
                "visibilitytimeout",
                call.query["visibilitytimeout"],
                "Not a valid parameter in conjunction with peek.",
            )
        peeked = await call.store.peek_messages(call.account, call.queue_name, count=count)
        return xml(bodies.render_messages(peeked, received=False))
    visibility = int_param(call.query, "visibilitytimeout", 30, 1, MAX_VISIBILITY)
    received = await call.store.get_messages(
        call.account, call.queue_name, count=count, visibility_timeout=visibility
    )
    return xml(bodies.render_messages(received, received=True))


async def clear(call: Call) -> Response:
    await call.store.clear_messages(call.account, call.queue_name)
    return empty(204)


def _pop_receipt(call: Call) -> str:
    receipt = call.query.get("popreceipt")
    if receipt is None:
        raise MissingRequiredQueryParameter("popreceipt")
    return receipt


async def delete(call: Call) -> Response:
    assert call.message_id is not None
    await call.store.delete_message(
        call.account, call.queue_name, call.message_id, _pop_receipt(call)
    )
    return empty(204)


async def update(call: Call) -> Response:
    assert call.message_id is not None
    receipt = _pop_receipt(call)
    if "visibilitytimeout" not in call.query:
        raise MissingRequiredQueryParameter("visibilitytimeout")
    visibility = int_param(call.query, "visibilitytimeout", 0, 0, MAX_VISIBILITY)
    text = _message_text(call) if call.body.strip() else None
    message = await call.store.update_message(
        call.account,
        call.queue_name,
        call.message_id,
        receipt,
        visibility_timeout=visibility,
        text=text,
    )
    return empty(
        204,
        {
            "x-ms-popreceipt": message.pop_receipt or "",
            "x-ms-time-next-visible": rfc1123(message.visible_at),
        },
    )
