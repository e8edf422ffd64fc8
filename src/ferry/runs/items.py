"""Items in the database: written and read in one shape by the ledger and the agent store.

An item's body holds what it says; where it belongs (its conversation, the run that made or
took it, the step) are columns. Read back, an item is its body with those three added, so a
view can show `thread_id`/`run_id` and the engine can group calls by step.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update

from ferry.store.schema import items
from ferry.types import Json

__all__ = ["PLACES", "insert_items", "item_from_row", "items_by_id", "update_items"]

_ADD = insert(items)

PLACES = ("conversation_id", "run_id", "step_id")
"""The keys a read item carries besides its body."""


def item_from_row(row: Row[Any]) -> Json:
    return {
        **dict(row.body),
        "id": row.id,
        "conversation_id": row.conversation_id,
        "run_id": row.run_id,
        "step_id": row.step_id,
    }


def insert_items(
    conn: Connection,
    project: str,
    new: Iterable[Json],
    *,
    conversation_id: str | None,
    run_id: str | None,
    step_id: str | None = None,
) -> None:
    rows = []
    for item in new:
        body = {key: value for key, value in item.items() if key not in PLACES}
        rows.append(
            {
                "project": project,
                "id": item["id"],
                "conversation_id": conversation_id,
                "run_id": run_id,
                "step_id": item.get("step_id", step_id),
                "type": item["type"],
                "call_id": item.get("call_id"),
                "body": body,
            }
        )
    if rows:
        conn.execute(_ADD, rows)


def update_items(conn: Connection, changed: Iterable[Json]) -> None:
    """Store new bodies for items already stored (their places do not change)."""
    for item in changed:
        body = {key: value for key, value in item.items() if key not in PLACES}
        conn.execute(update(items).where(items.c.id == item["id"]).values(body=body))


def items_by_id(conn: Connection, ids: Sequence[str]) -> dict[str, Json]:
    if not ids:
        return {}
    rows = conn.execute(select(items).where(items.c.id.in_(list(ids))))
    return {row.id: item_from_row(row) for row in rows}
