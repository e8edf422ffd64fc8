"""The v2 API's routes: agents and versions under the project, and the OpenAI-compatible
responses and conversations under each base the clients build.

`get_openai_client()` of azure-ai-projects 2.x uses `<project>/openai/v1` (no api-version);
older betas and the REST docs use `<project>/openai` with an api-version; an agent's own
endpoint is `<project>/agents/{name}/endpoint/protocols/openai` (the path names the agent,
its version selector picks the version). The bare root serves the same for a plain `openai`
client pointed at Ferry.
"""

from __future__ import annotations

from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from ferry.agents.bodies import parse_body
from ferry.agents.errors import BadRequest
from ferry.agents.http import Call, Endpoints
from ferry.agents.http import json_response as _json
from ferry.agents.v2.agents import AgentsV2
from ferry.agents.v2.conversations import ConversationsV2
from ferry.agents.v2.requests import (
    AgentCreate,
    AgentPatch,
    ConversationCreate,
    ConversationUpdate,
    ItemsCreate,
    ResponseCreate,
    VersionCreate,
)
from ferry.agents.v2.responses import ResponsesV2
from ferry.agents.v2.stream import ResponseStream
from ferry.ids import new_id

__all__ = ["OPENAI_BASES", "ROOT_BASES", "V2Routes"]

OPENAI_BASES = ("/openai/v1", "/openai", "/agents/{agent_name}/endpoint/protocols/openai")
"""Where the responses and conversations are, under a project."""
ROOT_BASES = ("", "/v1")
"""And under the bare root (project `default`), for a plain `openai` client."""


def _flag(call: Call, name: str) -> bool:
    value = (call.query(name) or "false").lower()
    if value not in ("true", "false"):
        raise BadRequest(f"'{name}' must be true or false", param=name)
    return value == "true"


class V2Routes:
    def __init__(
        self,
        agents: AgentsV2,
        responses: ResponsesV2,
        conversations: ConversationsV2,
        endpoints: Endpoints,
    ) -> None:
        self.agents = agents
        self.responses = responses
        self.conversations = conversations
        self.endpoints = endpoints

    # Agents and versions -------------------------------------------------------------------

    async def create_agent(self, call: Call) -> Response:
        request = parse_body(AgentCreate, await call.body())
        return _json(await self.agents.create_agent(call.project, request))

    async def list_agents(self, call: Call) -> Response:
        page = await self.agents.list_agents(call.project, call.query("kind"), **call.paging())
        return _json(page.to_json())

    async def get_agent(self, call: Call) -> Response:
        return _json(await self.agents.get_agent(call.project, call.id("agent_name")))

    async def update_agent(self, call: Call) -> Response:
        request = parse_body(VersionCreate, await call.body())
        return _json(await self.agents.update_agent(call.project, call.id("agent_name"), request))

    async def patch_agent(self, call: Call) -> Response:
        request = parse_body(AgentPatch, await call.body(), empty_ok=True)
        return _json(await self.agents.patch_agent(call.project, call.id("agent_name"), request))

    async def delete_agent(self, call: Call) -> Response:
        _flag(call, "force")
        return _json(await self.agents.delete_agent(call.project, call.id("agent_name")))

    async def create_version(self, call: Call) -> Response:
        request = parse_body(VersionCreate, await call.body())
        return _json(await self.agents.create_version(call.project, call.id("agent_name"), request))

    async def list_versions(self, call: Call) -> Response:
        page = await self.agents.list_versions(call.project, call.id("agent_name"), **call.paging())
        return _json(page.to_json())

    async def get_version(self, call: Call) -> Response:
        return _json(
            await self.agents.get_version(call.project, call.id("agent_name"), call.id("version"))
        )

    async def delete_version(self, call: Call) -> Response:
        return _json(
            await self.agents.delete_version(
                call.project, call.id("agent_name"), call.id("version"), _flag(call, "force")
            )
        )

    # Responses -----------------------------------------------------------------------------

    def _stream_of(self, call: Call, run_id: str, after: int = -1) -> ResponseStream:
        return ResponseStream(self.responses.store, self.responses.bus, call.project, run_id, after)

    @staticmethod
    def _stream(stream: ResponseStream) -> Response:
        return StreamingResponse(
            stream.events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
        )

    async def create_response(self, call: Call) -> Response:
        request = parse_body(ResponseCreate, await call.body())
        path_agent = call.params.get("agent_name")
        if request.stream:
            run_id = new_id("resp")
            stream = self._stream_of(call, run_id)
            stream.watch()
            try:
                created = await self.responses.create(
                    call.project, request, path_agent=path_agent, run_id=run_id
                )
            except BaseException:
                stream.close()
                raise
            stream.opened(created.response, created.news)
            return self._stream(stream)
        created = await self.responses.create(call.project, request, path_agent=path_agent)
        if request.background:
            return _json(created.response)
        return _json(
            await self.responses.settle(call.project, created.run_id, delete=request.store is False)
        )

    async def get_response(self, call: Call) -> Response:
        response_id = call.id("response_id")
        if not _flag(call, "stream"):
            return _json(await self.responses.get(call.project, response_id))
        raw = call.query("starting_after")
        if raw is not None and not raw.lstrip("-").isdigit():
            raise BadRequest("'starting_after' must be an integer", param="starting_after")
        response = await self.responses.get(call.project, response_id)
        if not response.get("background") and not await self.responses.logged(
            call.project, response_id
        ):
            raise BadRequest(
                "This response was not created with stream or background: it has no stream "
                "to replay.",
                param="stream",
            )
        return self._stream(self._stream_of(call, response_id, int(raw) if raw is not None else -1))

    async def delete_response(self, call: Call) -> Response:
        return _json(await self.responses.delete(call.project, call.id("response_id")))

    async def cancel_response(self, call: Call) -> Response:
        return _json(await self.responses.cancel(call.project, call.id("response_id")))

    async def input_items(self, call: Call) -> Response:
        page = await self.responses.input_items(
            call.project, call.id("response_id"), **call.paging()
        )
        return _json(page.to_json())

    # Conversations -------------------------------------------------------------------------

    async def create_conversation(self, call: Call) -> Response:
        request = parse_body(ConversationCreate, await call.body(), empty_ok=True)
        return _json(await self.conversations.create(call.project, request.items, request.metadata))

    async def get_conversation(self, call: Call) -> Response:
        return _json(await self.conversations.get(call.project, call.id("conversation_id")))

    async def update_conversation(self, call: Call) -> Response:
        request = parse_body(ConversationUpdate, await call.body(), empty_ok=True)
        return _json(
            await self.conversations.update(
                call.project, call.id("conversation_id"), request.metadata
            )
        )

    async def delete_conversation(self, call: Call) -> Response:
        return _json(await self.conversations.delete(call.project, call.id("conversation_id")))

    async def add_items(self, call: Call) -> Response:
        request = parse_body(ItemsCreate, await call.body())
        return _json(
            await self.conversations.add_items(
                call.project, call.id("conversation_id"), request.items
            )
        )

    async def list_items(self, call: Call) -> Response:
        page = await self.conversations.list_items(
            call.project, call.id("conversation_id"), **call.paging()
        )
        return _json(page.to_json())

    async def get_item(self, call: Call) -> Response:
        return _json(
            await self.conversations.get_item(
                call.project, call.id("conversation_id"), call.id("item_id")
            )
        )

    async def delete_item(self, call: Call) -> Response:
        return _json(
            await self.conversations.delete_item(
                call.project, call.id("conversation_id"), call.id("item_id")
            )
        )

    # Routes --------------------------------------------------------------------------------

    def agent_operations(self) -> list[Route]:
        e = self.endpoints.wrap
        agent = "/agents/{agent_name}"
        version = f"{agent}/versions/{{version}}"
        return [
            Route("/agents", e(self.create_agent), methods=["POST"]),
            Route("/agents", e(self.list_agents), methods=["GET"]),
            Route(agent, e(self.get_agent), methods=["GET"]),
            Route(agent, e(self.update_agent), methods=["POST"]),
            Route(agent, e(self.patch_agent), methods=["PATCH"]),
            Route(agent, e(self.delete_agent), methods=["DELETE"]),
            Route(f"{agent}/versions", e(self.create_version), methods=["POST"]),
            Route(f"{agent}/versions", e(self.list_versions), methods=["GET"]),
            Route(version, e(self.get_version), methods=["GET"]),
            Route(version, e(self.delete_version), methods=["DELETE"]),
        ]

    def openai_operations(self, base: str) -> list[Route]:
        e = self.endpoints.wrap
        response = f"{base}/responses/{{response_id}}"
        conversation = f"{base}/conversations/{{conversation_id}}"
        item = f"{conversation}/items/{{item_id}}"
        return [
            Route(f"{base}/responses", e(self.create_response), methods=["POST"]),
            Route(response, e(self.get_response), methods=["GET"]),
            Route(response, e(self.delete_response), methods=["DELETE"]),
            Route(f"{response}/cancel", e(self.cancel_response), methods=["POST"]),
            Route(f"{response}/input_items", e(self.input_items), methods=["GET"]),
            Route(f"{base}/conversations", e(self.create_conversation), methods=["POST"]),
            Route(conversation, e(self.get_conversation), methods=["GET"]),
            Route(conversation, e(self.update_conversation), methods=["POST"]),
            Route(conversation, e(self.delete_conversation), methods=["DELETE"]),
            Route(f"{conversation}/items", e(self.add_items), methods=["POST"]),
            Route(f"{conversation}/items", e(self.list_items), methods=["GET"]),
            Route(item, e(self.get_item), methods=["GET"]),
            Route(item, e(self.delete_item), methods=["DELETE"]),
        ]

    def project_operations(self) -> list[Route]:
        routes = self.agent_operations()
        for base in OPENAI_BASES:
            routes += self.openai_operations(base)
        return routes

    def root_operations(self) -> list[Route]:
        routes: list[Route] = []
        for base in ROOT_BASES:
            routes += self.openai_operations(base)
        return routes
