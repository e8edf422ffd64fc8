"""The agent service's operations for both API generations, over one store and one bus."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ferry.agents.classic.service import ClassicService
from ferry.agents.store import AgentStore
from ferry.agents.v2.agents import AgentsV2
from ferry.agents.v2.conversations import ConversationsV2
from ferry.agents.v2.responses import ResponsesV2
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

    @classmethod
    def build(
        cls, database: Database, wake: Callable[[], None] = lambda: None, bus: RunBus | None = None
    ) -> AgentServices:
        """`wake` tells this process's run engine that a run has work; `bus` is where
        requests that stream or wait hear of runs this process works."""
        store = AgentStore(database)
        agents = AgentsV2(store)
        return cls(
            store,
            ClassicService(store, wake, bus),
            agents,
            ResponsesV2(store, agents, wake, bus),
            ConversationsV2(store),
        )
