"""The agent service's catalogue in the database: agents and their versions, conversations
and their items, and paging over any of them (runs included, which only the ledger writes).

Both APIs read and write through here, each with its own `api` mark on what it creates, so a
classic client lists only assistants and threads, and a v2 client only agents and
conversations. Operations that check one object's state before changing another run in one
transaction, so two processes sharing a PostgreSQL database cannot both succeed where only
one may.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    Table,
    bindparam,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from ferry.agents.errors import BadRequest, Conflict, NotFound
from ferry.clock import Clock, system_clock
from ferry.knowledge.vectorstores import VectorStores
from ferry.runs.items import insert_items, item_from_row
from ferry.runs.ledger import Ledger
from ferry.runs.status import ACTIVE
from ferry.store import Database
from ferry.store.schema import (
    agent_versions,
    agents,
    conversations,
    items,
    runs,
)
from ferry.types import Json

__all__ = ["AgentStore", "Page", "conversation_busy"]

T = TypeVar("T")


@dataclass(frozen=True)
class Page:
    data: list[Json]
    has_more: bool

    def to_json(self, *, id_key: str = "id") -> Json:
        """The list shape: `last_id` is null on an empty page, so SDK pagers that ask again
        while it is set always stop."""
        return {
            "object": "list",
            "data": self.data,
            "first_id": self.data[0][id_key] if self.data else None,
            "last_id": self.data[-1][id_key] if self.data else None,
            "has_more": self.has_more,
        }


# Statements of every run's creation, built once (see `ferry.runs.ledger`).
_BUSY = (
    select(runs.c.id)
    .where(
        runs.c.project == bindparam("b_project"),
        runs.c.conversation_id == bindparam("b_conversation"),
        runs.c.status.in_(list(ACTIVE)),
    )
    .limit(1)
)
_AGENT = select(agents).where(
    agents.c.project == bindparam("b_project"),
    agents.c.id == bindparam("b_agent"),
    agents.c.api == bindparam("b_api"),
)
_LOCKED_AGENT = _AGENT.with_for_update()
_VERSION = select(agent_versions).where(
    agent_versions.c.project == bindparam("b_project"),
    agent_versions.c.agent_id == bindparam("b_agent"),
    agent_versions.c.version == bindparam("b_version"),
)
_CONVERSATION = select(conversations).where(
    conversations.c.project == bindparam("b_project"),
    conversations.c.id == bindparam("b_conversation"),
    conversations.c.api == bindparam("b_api"),
)
_LOCKED_CONVERSATION = _CONVERSATION.with_for_update()
_ADD_CONVERSATION = conversations.insert()
_LAST_SEQ = select(func.max(items.c.seq)).where(
    items.c.project == bindparam("b_project"),
    items.c.conversation_id == bindparam("b_conversation"),
)


def conversation_busy(conn: Connection, project: str, conversation_id: str) -> str | None:
    """The id of a run active on the conversation, if any."""
    return conn.execute(
        _BUSY, {"b_project": project, "b_conversation": conversation_id}
    ).scalar_one_or_none()


class AgentStore:
    """CRUD and paging for the APIs; runs are written by the ledger (`ledger`)."""

    def __init__(self, database: Database, clock: Clock = system_clock) -> None:
        self.database = database
        self.clock = clock
        self.ledger = Ledger(database, "api", clock)

    def now(self) -> int:
        """Unix seconds, as the objects carry them."""
        return self.clock() // 1000

    async def read(self, work: Callable[[Connection], T]) -> T:
        return await self.database.read(work)

    async def write(self, work: Callable[[Connection], T]) -> T:
        return await self.database.write(work)

    # Agents --------------------------------------------------------------------------------

    @staticmethod
    def agent_row(
        conn: Connection, project: str, agent_id: str, api: str, *, lock: bool = False
    ) -> Row[Any] | None:
        """The agent; with `lock`, held until the transaction ends (versions are numbered
        under it, so two processes cannot both make version N)."""
        given = {"b_project": project, "b_agent": agent_id, "b_api": api}
        return conn.execute(_LOCKED_AGENT if lock else _AGENT, given).one_or_none()

    @staticmethod
    def claim_agent(
        conn: Connection, project: str, agent_id: str, api: str, name: str | None
    ) -> tuple[Row[Any], bool]:
        """The agent, made now if there is none (whoever races to make it too finds it), and
        locked for the transaction; whether it was made now."""
        insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        made = conn.execute(
            insert(agents)
            .values(project=project, id=agent_id, api=api, name=name, latest=0, body={})
            .on_conflict_do_nothing(index_elements=["project", "id"])
            .returning(agents.c.seq)
        ).first()
        row = AgentStore.agent_row(conn, project, agent_id, api, lock=True)
        if row is None:  # the id is taken by the other generation's agent
            raise Conflict(f"An agent with id '{agent_id[:80]}' exists already.")
        return row, made is not None

    @staticmethod
    def version_row(conn: Connection, project: str, agent_id: str, version: int) -> Row[Any] | None:
        given = {"b_project": project, "b_agent": agent_id, "b_version": version}
        return conn.execute(_VERSION, given).one_or_none()

    @staticmethod
    def insert_agent(
        conn: Connection, project: str, agent_id: str, api: str, name: str | None, body: Json
    ) -> None:
        conn.execute(
            agents.insert().values(
                project=project, id=agent_id, api=api, name=name, latest=0, body=body
            )
        )

    @staticmethod
    def insert_version(
        conn: Connection, project: str, agent_id: str, version: int, body: Json
    ) -> None:
        VectorStores.check_tools(conn, project, (body.get("definition") or {}).get("tools") or [])
        conn.execute(
            agent_versions.insert().values(
                project=project,
                id=f"{agent_id}:{version}",
                agent_id=agent_id,
                version=version,
                body=body,
            )
        )
        conn.execute(
            update(agents)
            .where(agents.c.project == project, agents.c.id == agent_id)
            .values(latest=version)
        )

    @staticmethod
    def replace_version(
        conn: Connection, project: str, agent_id: str, version: int, body: Json
    ) -> None:
        conn.execute(
            update(agent_versions)
            .where(
                agent_versions.c.project == project,
                agent_versions.c.agent_id == agent_id,
                agent_versions.c.version == version,
            )
            .values(body=body)
        )

    @staticmethod
    def update_agent(conn: Connection, project: str, agent_id: str, **values: Any) -> None:
        conn.execute(
            update(agents)
            .where(agents.c.project == project, agents.c.id == agent_id)
            .values(**values)
        )

    @staticmethod
    def delete_agent(conn: Connection, project: str, agent_id: str) -> None:
        conn.execute(
            delete(agent_versions).where(
                agent_versions.c.project == project, agent_versions.c.agent_id == agent_id
            )
        )
        conn.execute(delete(agents).where(agents.c.project == project, agents.c.id == agent_id))

    @staticmethod
    def delete_version(conn: Connection, project: str, agent_id: str, version: int) -> None:
        conn.execute(
            delete(agent_versions).where(
                agent_versions.c.project == project,
                agent_versions.c.agent_id == agent_id,
                agent_versions.c.version == version,
            )
        )

    # Conversations and items ---------------------------------------------------------------

    @staticmethod
    def conversation_row(
        conn: Connection, project: str, conversation_id: str, api: str, *, lock: bool = False
    ) -> Row[Any] | None:
        """The conversation; with `lock`, held until the transaction ends, so that a check
        that no run is active on it and the run (or message) that follows are one step for
        processes sharing PostgreSQL."""
        given = {"b_project": project, "b_conversation": conversation_id, "b_api": api}
        return conn.execute(_LOCKED_CONVERSATION if lock else _CONVERSATION, given).one_or_none()

    @staticmethod
    def insert_conversation(
        conn: Connection, project: str, conversation_id: str, api: str, body: Json
    ) -> None:
        conn.execute(
            _ADD_CONVERSATION,
            {"project": project, "id": conversation_id, "api": api, "body": body},
        )

    @staticmethod
    def replace_conversation(conn: Connection, conversation_id: str, body: Json) -> None:
        conn.execute(
            update(conversations).where(conversations.c.id == conversation_id).values(body=body)
        )

    @staticmethod
    def delete_conversation(conn: Connection, project: str, conversation_id: str) -> None:
        """The conversation, its items and every run on it."""
        run_ids = list(
            conn.execute(
                select(runs.c.id).where(
                    runs.c.project == project, runs.c.conversation_id == conversation_id
                )
            ).scalars()
        )
        Ledger.delete(conn, run_ids)
        conn.execute(
            delete(items).where(
                items.c.project == project, items.c.conversation_id == conversation_id
            )
        )
        conn.execute(delete(conversations).where(conversations.c.id == conversation_id))

    @staticmethod
    def add_items(
        conn: Connection,
        project: str,
        new: Sequence[Json],
        *,
        conversation_id: str | None,
        run_id: str | None = None,
    ) -> None:
        insert_items(conn, project, new, conversation_id=conversation_id, run_id=run_id)

    @staticmethod
    def item(
        conn: Connection, project: str, item_id: str, *where: ColumnElement[bool]
    ) -> Json | None:
        row = conn.execute(
            select(items).where(items.c.project == project, items.c.id == item_id, *where)
        ).one_or_none()
        return item_from_row(row) if row is not None else None

    @staticmethod
    def replace_item(conn: Connection, item: Json) -> None:
        body = {k: v for k, v in item.items() if k not in ("conversation_id", "run_id", "step_id")}
        conn.execute(update(items).where(items.c.id == item["id"]).values(body=body))

    @staticmethod
    def detach_item(conn: Connection, item: Json) -> None:
        """Take an item out of its conversation: a run's item stays the run's, anyone
        else's is deleted."""
        if item.get("run_id"):
            conn.execute(update(items).where(items.c.id == item["id"]).values(conversation_id=None))
        else:
            conn.execute(delete(items).where(items.c.id == item["id"]))

    @staticmethod
    def last_item_seq(conn: Connection, project: str, conversation_id: str) -> int | None:
        return conn.execute(
            _LAST_SEQ, {"b_project": project, "b_conversation": conversation_id}
        ).scalar_one_or_none()

    # Paging --------------------------------------------------------------------------------

    @staticmethod
    def page(
        conn: Connection,
        table: Table,
        *,
        where: Sequence[ColumnElement[bool]],
        shape: Callable[[Row[Any]], Json],
        limit: int,
        order: str,
        after: str | None,
        before: str | None,
    ) -> Page:
        """One page in `seq` order. An `after`/`before` id that is not in the list gives an
        empty page, so a client that pages by `last_id` always stops."""
        query = select(table).where(*where)
        descending = order == "desc"
        for cursor, newer in ((after, not descending), (before, descending)):
            if cursor is None:
                continue
            seq = conn.execute(
                select(table.c.seq).where(*where, table.c.id == cursor)
            ).scalar_one_or_none()
            if seq is None:
                return Page([], False)
            query = query.where(table.c.seq > seq if newer else table.c.seq < seq)
        query = query.order_by(table.c.seq.desc() if descending else table.c.seq)
        rows = list(conn.execute(query.limit(limit + 1)))
        return Page([shape(row) for row in rows[:limit]], len(rows) > limit)


def missing(what: str, object_id: str) -> NotFound:
    return NotFound(f"No {what} found with id '{object_id[:100]}'.")


def busy(run_id: str, doing: str, conversation_id: str) -> BadRequest:
    return BadRequest(f"Can't {doing} {conversation_id} while a run {run_id} is active.")
