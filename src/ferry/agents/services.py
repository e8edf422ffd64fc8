"""The agent service's operations for both API generations, over one store and one bus."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ferry.agents.classic.service import ClassicService
from ferry.agents.store import AgentStore
from ferry.agents.v2.agents import AgentsV2
from ferry.agents.v2.conversations import ConversationsV2
from ferry.agents.v2.responses import ResponsesV2
from ferry.knowledge.files import FileStore
from ferry.knowledge.vectorstores import VectorStores
from ferry.runs.bus import RunBus
from ferry.store import Database

__all__ = ["AgentServices"]


@dataclass(frozen=True)
class AgentServices:
    store: AgentStore
    classic: ClassicService
    agents: AgentsV2
    responses: ResponsesV2
    conversations: ConversationsV2
    files: FileStore
    vector_stores: VectorStores

    @classmethod
    def build(
        cls,
        database: Database,
        wake: Callable[[], None] = lambda: None,
        bus: RunBus | None = None,
        ingest: Callable[[], None] = lambda: None,
    ) -> AgentServices:
        """`wake` tells this process's run engine that a run has work, `ingest` its
        ingester that files wait; `bus` is where requests that stream or wait hear of runs
        this process works."""
        store = AgentStore(database)
        agents = AgentsV2(store)
        vector_stores = VectorStores(database, wake=ingest)
        return cls(
            store,
            ClassicService(store, vector_stores, wake, bus),
            agents,
            ResponsesV2(store, agents, wake, bus),
            ConversationsV2(store),
            FileStore(database),
            vector_stores,
        )
