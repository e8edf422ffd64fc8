"""v2 conversations: a conversation of the core, and its items as the Conversations API shows
them (messages, function calls and their outputs, whoever made them).

Items may be added while a response works on the conversation: that response sees only the
items up to where it started (its horizon), the next one sees them all. An output added here
for a call the agent made answers that call.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from ferry.agents.errors import NotFound
from ferry.agents.store import AgentStore, Page
from ferry.agents.v2.agents import API
from ferry.agents.v2.inputs import client_calls, take_inputs
from ferry.agents.v2.items import input_items, render_item
from ferry.agents.v2.views import conversation_view
from ferry.ids import new_id
from ferry.runs.calls import calls_of
from ferry.runs.items import item_from_row
from ferry.store.schema import items, runs
from ferry.types import Json

__all__ = ["ConversationsV2"]


def _missing(conversation_id: str) -> NotFound:
    return NotFound(f"Conversation with id '{conversation_id[:80]}' not found.")


class ConversationsV2:
    def __init__(self, store: AgentStore) -> None:
        self.store = store

    @staticmethod
    def body(conn: Connection, project: str, conversation_id: str) -> Json:
        row = AgentStore.conversation_row(conn, project, conversation_id, API)
        if row is None:
            raise _missing(conversation_id)
        return dict(row.body)

    def _take(
        self, conn: Connection, project: str, conversation_id: str, new: list[Json]
    ) -> list[Json]:
        waiting = client_calls(conn, project, conversation_id=conversation_id, chain=())
        return take_inputs(
            conn,
            self.store.ledger,
            project,
            new,
            conversation_id=conversation_id,
            run_id=None,
            waiting=waiting,
            now=self.store.clock(),
            complete=False,
        )

    async def create(self, project: str, given: list[Any] | None, metadata: Json | None) -> Json:
        now = self.store.now()
        new = input_items(given, now, param="items")
        conversation_id = new_id("conv")
        body = {"created_at": now, "metadata": metadata or {}}

        def work(conn: Connection) -> Json:
            AgentStore.insert_conversation(conn, project, conversation_id, API, body)
            self._take(conn, project, conversation_id, new)
            return conversation_view(conversation_id, body)

        return await self.store.write(work)

    async def get(self, project: str, conversation_id: str) -> Json:
        return await self.store.read(
            lambda conn: conversation_view(
                conversation_id, self.body(conn, project, conversation_id)
            )
        )

    async def update(self, project: str, conversation_id: str, metadata: Json | None) -> Json:
        def work(conn: Connection) -> Json:
            body = self.body(conn, project, conversation_id)
            body["metadata"] = metadata or {}
            AgentStore.replace_conversation(conn, conversation_id, body)
            return conversation_view(conversation_id, body)

        return await self.store.write(work)

    async def delete(self, project: str, conversation_id: str) -> Json:
        def work(conn: Connection) -> None:
            self.body(conn, project, conversation_id)
            AgentStore.delete_conversation(conn, project, conversation_id)

        await self.store.write(work)
        return {"id": conversation_id, "object": "conversation.deleted", "deleted": True}

    @staticmethod
    def _render(conn: Connection, found: list[Json]) -> list[Json]:
        run_ids = sorted({i["run_id"] for i in found if i.get("run_id")})
        calls = {call.id: call for call in calls_of(conn, run_ids)}
        agents: dict[str, Json] = {}
        if run_ids:
            for row in conn.execute(
                runs.select()
                .with_only_columns(runs.c.id, runs.c.body)
                .where(runs.c.id.in_(run_ids))
            ):
                agents[row.id] = dict(row.body).get("agent") or {}
        return [render_item(i, calls, agents.get(i.get("run_id") or "")) for i in found]

    async def add_items(self, project: str, conversation_id: str, given: list[Any]) -> Json:
        new = input_items(given, self.store.now(), param="items")

        def work(conn: Connection) -> Json:
            self.body(conn, project, conversation_id)
            data = self._render(conn, self._take(conn, project, conversation_id, new))
            return {
                "object": "list",
                "data": data,
                "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None,
                "has_more": False,
            }

        return await self.store.write(work)

    async def list_items(self, project: str, conversation_id: str, **paging: Any) -> Page:
        def work(conn: Connection) -> Page:
            self.body(conn, project, conversation_id)
            page = AgentStore.page(
                conn,
                items,
                where=[items.c.project == project, items.c.conversation_id == conversation_id],
                shape=item_from_row,
                **paging,
            )
            return Page(self._render(conn, page.data), page.has_more)

        return await self.store.read(work)

    @staticmethod
    def _item(conn: Connection, project: str, conversation_id: str, item_id: str) -> Json:
        found = AgentStore.item(conn, project, item_id, items.c.conversation_id == conversation_id)
        if found is None:
            raise NotFound(f"Item with id '{item_id[:80]}' not found.")
        return found

    async def get_item(self, project: str, conversation_id: str, item_id: str) -> Json:
        def work(conn: Connection) -> Json:
            self.body(conn, project, conversation_id)
            return self._render(conn, [self._item(conn, project, conversation_id, item_id)])[0]

        return await self.store.read(work)

    async def delete_item(self, project: str, conversation_id: str, item_id: str) -> Json:
        """The item leaves the conversation (a response that made it keeps it); the answer
        is the conversation."""

        def work(conn: Connection) -> Json:
            body = self.body(conn, project, conversation_id)
            item = self._item(conn, project, conversation_id, item_id)
            AgentStore.detach_item(conn, item)
            return conversation_view(conversation_id, body)

        return await self.store.write(work)
