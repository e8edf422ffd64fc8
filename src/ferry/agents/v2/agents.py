"""v2 agents: named, with immutable versions, and an endpoint that picks a version per request.

An agent's id is its name; versions count from 1. `PATCH /agents/{name}` sets the agent's
endpoint, whose version selector splits traffic between versions by percentage (the form
azure-ai-projects 2.10's samples use before calling the agent through its own OpenAI base).
"""

from __future__ import annotations

import random
from typing import Any

from sqlalchemy import Connection, Row, select

from ferry.agents.errors import BadRequest, Conflict, NotFound
from ferry.agents.store import AgentStore, Page
from ferry.agents.v2.requests import AGENT_NAME, AgentCreate, AgentPatch, VersionCreate, format_of
from ferry.agents.v2.views import agent_view, version_view
from ferry.store.schema import agent_versions, agents
from ferry.types import Json

__all__ = ["API", "AgentsV2", "check_name"]

API = "v2"


def check_name(name: str) -> str:
    if not AGENT_NAME.fullmatch(name):
        raise BadRequest(
            f"'{name[:80]}' is not a valid agent name: use up to 63 letters, digits and "
            "hyphens, starting and ending with a letter or digit",
            param="agent_name",
        )
    return name


def _no_agent(name: str) -> NotFound:
    return NotFound(f"Agent '{name[:80]}' not found.")


def _version_body(request: VersionCreate, now: int) -> Json:
    definition = request.definition
    return {
        "created_at": now,
        "description": request.description,
        "metadata": request.metadata or {},
        "definition": {
            "kind": "prompt",
            "model": definition.model,
            "instructions": definition.instructions,
            "tools": definition.tools or [],
            "temperature": definition.temperature,
            "top_p": definition.top_p,
            "tool_choice": definition.tool_choice,
            "format": format_of(definition.text),
            "structured_inputs": definition.structured_inputs,
        },
    }


def _endpoint(value: Any, versions: set[int]) -> Json | None:
    """A checked agent endpoint: each rule names a version the agent has, and the traffic
    adds up to 100."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise BadRequest("'agent_endpoint' must be an object", param="agent_endpoint")
    selector = value.get("version_selector")
    if selector is None:
        return value
    rules = selector.get("version_selection_rules") if isinstance(selector, dict) else None
    if not isinstance(rules, list) or not rules:
        raise BadRequest(
            "'agent_endpoint.version_selector.version_selection_rules' must be a non-empty array",
            param="agent_endpoint.version_selector",
        )
    total = 0
    for index, rule in enumerate(rules):
        where = f"agent_endpoint.version_selector.version_selection_rules[{index}]"
        if not isinstance(rule, dict) or rule.get("type") != "FixedRatio":
            raise BadRequest(f"{where} must be a 'FixedRatio' rule", param=where)
        version, share = rule.get("agent_version"), rule.get("traffic_percentage")
        if not isinstance(version, str) or not version.isdigit() or int(version) not in versions:
            raise BadRequest(f"{where}: the agent has no version '{version}'", param=where)
        if not isinstance(share, int) or isinstance(share, bool) or not 0 <= share <= 100:
            raise BadRequest(f"{where}.traffic_percentage must be 0 to 100", param=where)
        total += share
    if total != 100:
        raise BadRequest(
            f"the version selection rules' traffic percentages add up to {total}, not 100",
            param="agent_endpoint.version_selector",
        )
    return value


def pick_version(agent: Json, latest: int) -> int:
    """The version a request on the agent's endpoint goes to: by the selector's shares, or
    the latest version when the agent has no selector."""
    selector = (agent.get("agent_endpoint") or {}).get("version_selector") or {}
    rules = selector.get("version_selection_rules") or []
    if not rules:
        return latest
    weights = [int(rule["traffic_percentage"]) for rule in rules]
    chosen = random.choices(rules, weights=weights)[0]
    return int(chosen["agent_version"])


class AgentsV2:
    def __init__(self, store: AgentStore) -> None:
        self.store = store

    @staticmethod
    def agent(conn: Connection, project: str, name: str, *, lock: bool = False) -> Row[Any]:
        row = AgentStore.agent_row(conn, project, name, API, lock=lock)
        if row is None:
            raise _no_agent(name)
        return row

    @staticmethod
    def version(conn: Connection, project: str, name: str, version: int) -> Json:
        row = AgentStore.version_row(conn, project, name, version)
        if row is None:
            raise NotFound(f"Agent '{name[:80]}' has no version '{version}'.")
        return dict(row.body)

    def _render(self, conn: Connection, project: str, row: Row[Any]) -> Json:
        latest = self.version(conn, project, row.id, row.latest)
        return agent_view(row.id, dict(row.body), row.latest, latest)

    async def create_version(self, project: str, name: str, request: VersionCreate) -> Json:
        check_name(name)
        body = _version_body(request, self.store.now())

        def work(conn: Connection) -> Json:
            row, _made = AgentStore.claim_agent(conn, project, name, API, name)
            number = row.latest + 1
            AgentStore.insert_version(conn, project, name, number, body)
            return version_view(name, number, body)

        return await self.store.write(work)

    async def create_agent(self, project: str, request: AgentCreate) -> Json:
        """`POST /agents`: a new agent with its first version (409 if the name is taken)."""
        name = check_name(request.name)
        body = _version_body(request, self.store.now())

        def work(conn: Connection) -> Json:
            _row, made = AgentStore.claim_agent(conn, project, name, API, name)
            if not made:
                raise Conflict(f"An agent named '{name}' exists already.")
            AgentStore.insert_version(conn, project, name, 1, body)
            return self._render(conn, project, self.agent(conn, project, name))

        return await self.store.write(work)

    async def update_agent(self, project: str, name: str, request: VersionCreate) -> Json:
        """`POST /agents/{name}` (older betas): a new version of an agent that exists."""
        body = _version_body(request, self.store.now())

        def work(conn: Connection) -> Json:
            row = self.agent(conn, project, name, lock=True)
            AgentStore.insert_version(conn, project, name, row.latest + 1, body)
            return self._render(conn, project, self.agent(conn, project, name))

        return await self.store.write(work)

    async def patch_agent(self, project: str, name: str, request: AgentPatch) -> Json:
        def work(conn: Connection) -> Json:
            row = self.agent(conn, project, name)
            agent = dict(row.body)
            if "agent_endpoint" in request.model_fields_set:
                numbers = set(
                    conn.execute(
                        select(agent_versions.c.version).where(
                            agent_versions.c.project == project,
                            agent_versions.c.agent_id == name,
                        )
                    ).scalars()
                )
                agent["agent_endpoint"] = _endpoint(request.agent_endpoint, numbers)
                AgentStore.update_agent(conn, project, name, body=agent)
            return self._render(conn, project, self.agent(conn, project, name))

        return await self.store.write(work)

    async def get_agent(self, project: str, name: str) -> Json:
        return await self.store.read(
            lambda conn: self._render(conn, project, self.agent(conn, project, name))
        )

    async def delete_agent(self, project: str, name: str) -> Json:
        def work(conn: Connection) -> None:
            self.agent(conn, project, name)
            AgentStore.delete_agent(conn, project, name)

        await self.store.write(work)
        return {"object": "agent.deleted", "name": name, "deleted": True}

    async def list_agents(self, project: str, kind: str | None, **paging: Any) -> Page:
        if kind not in (None, "prompt"):
            return Page([], False)

        def work(conn: Connection) -> Page:
            return AgentStore.page(
                conn,
                agents,
                where=[agents.c.project == project, agents.c.api == API],
                shape=lambda row: self._render(conn, project, row),
                **paging,
            )

        return await self.store.read(work)

    async def get_version(self, project: str, name: str, version: str) -> Json:
        number = _number(version)

        def work(conn: Connection) -> Json:
            self.agent(conn, project, name)
            return version_view(name, number, self.version(conn, project, name, number))

        return await self.store.read(work)

    async def delete_version(self, project: str, name: str, version: str, force: bool) -> Json:
        """A version; the agent goes with its last one. A version the endpoint still sends
        traffic to is kept, unless `force` (then the endpoint's rules for it go too)."""
        number = _number(version)

        def work(conn: Connection) -> None:
            row = self.agent(conn, project, name)
            self.version(conn, project, name, number)
            agent = dict(row.body)
            endpoint = agent.get("agent_endpoint") or {}
            selector = endpoint.get("version_selector") or {}
            rules = selector.get("version_selection_rules") or []
            kept = [r for r in rules if r.get("agent_version") != str(number)]
            if len(kept) != len(rules):
                if not force:
                    raise BadRequest(
                        f"version {number} of '{name}' still takes traffic on the agent's "
                        "endpoint; change the endpoint first, or delete with force=true"
                    )
                endpoint = {**endpoint, "version_selector": None}
                agent["agent_endpoint"] = endpoint
                AgentStore.update_agent(conn, project, name, body=agent)
            AgentStore.delete_version(conn, project, name, number)
            left = conn.execute(
                select(agent_versions.c.version)
                .where(agent_versions.c.project == project, agent_versions.c.agent_id == name)
                .order_by(agent_versions.c.version.desc())
                .limit(1)
            ).scalar_one_or_none()
            if left is None:
                AgentStore.delete_agent(conn, project, name)
            elif left != row.latest:
                AgentStore.update_agent(conn, project, name, latest=left)

        await self.store.write(work)
        return {
            "object": "agent.version.deleted",
            "name": name,
            "version": version,
            "deleted": True,
        }

    async def list_versions(self, project: str, name: str, **paging: Any) -> Page:
        def work(conn: Connection) -> Page:
            self.agent(conn, project, name)
            return AgentStore.page(
                conn,
                agent_versions,
                where=[agent_versions.c.project == project, agent_versions.c.agent_id == name],
                shape=lambda row: version_view(name, row.version, dict(row.body)),
                **paging,
            )

        return await self.store.read(work)


def _number(version: str) -> int:
    if not version.isdigit() or len(version) > 9:
        raise NotFound(f"No agent version '{version[:40]}'.")
    return int(version)
