"""Account-level operations: list queues, service properties and statistics."""

from __future__ import annotations

from starlette.responses import Response

from ferry.queues import bodies
from ferry.queues.call import Call
from ferry.queues.errors import InvalidQueryParameterValue
from ferry.queues.params import int_param
from ferry.queues.wire import empty, xml

__all__ = ["get_properties", "get_stats", "list_queues", "set_properties"]

MAX_LIST_RESULTS = 5000


async def list_queues(call: Call) -> Response:
    prefix = call.query.get("prefix")
    marker = call.query.get("marker")
    given_max = "maxresults" in call.query
    # Below 1 is an error; above the page limit is quietly reduced to it, as the service does.
    asked = int_param(call.query, "maxresults", MAX_LIST_RESULTS, 1, 2**31 - 1)
    max_results = min(asked, MAX_LIST_RESULTS)
    include = call.query.get("include", "")
    includes = {part.strip() for part in include.split(",") if part.strip()}
    if includes - {"metadata"}:
        raise InvalidQueryParameterValue("include", include)
    listing = await call.store.list_queues(
        call.account,
        prefix=prefix or "",
        marker=_marker_name(call.account, marker or ""),
        max_results=max_results,
        with_metadata="metadata" in includes,
    )
    return xml(
        bodies.render_queue_list(
            listing,
            endpoint=call.endpoint,
            prefix=prefix,
            marker=marker,
            max_results=max_results if given_max else None,
            with_metadata="metadata" in includes,
            next_marker=f"/{call.account}/{listing.next_marker}" if listing.next_marker else "",
        )
    )


def _marker_name(account: str, marker: str) -> str:
    """Markers look like `/<account>/<queue>`, as the service writes them; a bare queue name
    (as other emulators write them) is accepted too."""
    prefix = f"/{account}/"
    return marker[len(prefix) :] if marker.startswith(prefix) else marker


async def get_properties(call: Call) -> Response:
    stored = await call.store.get_service_properties(call.account)
    return xml(bodies.render_service_properties(stored or bodies.default_service_properties()))


async def set_properties(call: Call) -> Response:
    update = bodies.parse_service_properties(call.body)
    current = await call.store.get_service_properties(call.account)
    merged = bodies.merge_service_properties(current or bodies.default_service_properties(), update)
    await call.store.set_service_properties(call.account, merged)
    return empty(202)


async def get_stats(call: Call) -> Response:
    return xml(bodies.render_service_stats(call.clock()))
