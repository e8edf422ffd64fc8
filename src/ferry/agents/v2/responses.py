"""v2 responses: a response is a run of the core, made by an agent version or a plain model.

`create` checks the request against the store in one transaction (the agent and version, the
conversation or the previous response, the outputs of calls the client was asked for), stores
the client's input items and starts the run. Then the request either returns at once
(`background`), streams the run's news (`stream`), or waits for the run to end. A response
stored with `store: false` is deleted once it has been answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, select

from ferry import tracing
from ferry.agents.errors import BadRequest, NotFound
from ferry.agents.store import AgentStore, Page, conversation_busy
from ferry.agents.v2.agents import API, AgentsV2, pick_version
from ferry.agents.v2.inputs import approval_requests, client_calls, take_inputs
from ferry.agents.v2.items import input_items, render_item
from ferry.agents.v2.requests import ResponseCreate, format_of
from ferry.agents.v2.structured import fill_in
from ferry.agents.v2.views import response_view
from ferry.ids import new_id
from ferry.knowledge.vectorstores import VectorStores
from ferry.runs.bus import RunBus, watch_run
from ferry.runs.calls import calls_of
from ferry.runs.items import item_from_row
from ferry.runs.ledger import Ledger
from ferry.runs.news import opening_news
from ferry.runs.records import run_record
from ferry.runs.status import TERMINAL, RunStatus
from ferry.store.schema import items, runs
from ferry.types import Json

__all__ = ["Created", "ResponsesV2"]

WAIT_LIMIT = 600.0
"""Seconds a synchronous request waits for its response before answering with it as it
stands (it goes on; the client can poll it)."""
CANCEL_WAIT = 10.0


@dataclass(frozen=True)
class Created:
    response: Json
    run_id: str
    news: list[Json]
    """The news the run was created with (numbered), when its stream is logged."""


class ResponsesV2:
    def __init__(
        self,
        store: AgentStore,
        agents: AgentsV2,
        wake: Callable[[], None] = lambda: None,
        bus: RunBus | None = None,
    ) -> None:
        self.store = store
        self.agents = agents
        self.wake = wake
        self.bus = bus

    # Reading -------------------------------------------------------------------------------

    @staticmethod
    def row(conn: Connection, project: str, response_id: str) -> Row[Any]:
        row = conn.execute(
            select(runs).where(
                runs.c.project == project, runs.c.id == response_id, runs.c.api == API
            )
        ).one_or_none()
        if row is None:
            raise NotFound(f"Response with id '{response_id[:80]}' not found.")
        return row

    @staticmethod
    def render(conn: Connection, row: Row[Any]) -> Json:
        made = [
            item_from_row(r)
            for r in conn.execute(
                select(items)
                .where(items.c.run_id == row.id, items.c.step_id.is_not(None))
                .order_by(items.c.seq)
            )
        ]
        calls = {call.id: call for call in calls_of(conn, [row.id])}
        return response_view(
            row.id,
            row.status,
            dict(row.body),
            conversation_id=row.conversation_id,
            previous_run_id=row.previous_run_id,
            output=made,
            calls=calls,
        )

    async def get(self, project: str, response_id: str) -> Json:
        return await self.store.read(
            lambda conn: self.render(conn, self.row(conn, project, response_id))
        )

    async def logged(self, project: str, response_id: str) -> bool:
        """Whether the response's stream is logged (it was created to stream)."""
        return await self.store.read(
            lambda conn: self.row(conn, project, response_id).news is not None
        )

    async def input_items(self, project: str, response_id: str, **paging: Any) -> Page:
        def work(conn: Connection) -> Page:
            self.row(conn, project, response_id)
            return AgentStore.page(
                conn,
                items,
                where=[items.c.run_id == response_id, items.c.step_id.is_(None)],
                shape=lambda r: render_item(item_from_row(r)),
                **paging,
            )

        return await self.store.read(work)

    # Creating ------------------------------------------------------------------------------

    def _agent(
        self, conn: Connection, project: str, request: ResponseCreate, path_agent: str | None
    ) -> tuple[Json | None, Json]:
        """(the agent reference, the definition the run takes its settings from)."""
        reference = request.reference
        if reference is not None and (
            not isinstance(reference, dict) or not isinstance(reference.get("name"), str)
        ):
            raise BadRequest(
                "'agent_reference' must be {'type': 'agent_reference', 'name': ..., "
                "'version': ...}",
                param="agent_reference",
            )
        name = path_agent or (reference["name"] if reference else None)
        if reference and path_agent and reference["name"] != path_agent:
            raise BadRequest(
                f"the request names agent '{reference['name'][:80]}' on the endpoint of "
                f"agent '{path_agent}'",
                param="agent_reference",
            )
        if name is None:
            if request.model is None:
                raise BadRequest("Missing required parameter: 'model'.", param="model")
            return None, {}
        for field in ("model", "instructions", "tools"):
            if field in request.model_fields_set and getattr(request, field) is not None:
                raise BadRequest(
                    f"'{field}' cannot be given with an agent: the agent's definition sets it",
                    param=field,
                )
        row = self.agents.agent(conn, project, name)
        wanted = reference.get("version") if reference else None
        if wanted is not None:
            if not str(wanted).isdigit():
                raise NotFound(f"Agent '{name}' has no version '{str(wanted)[:40]}'.")
            version = int(wanted)
        elif path_agent is not None:
            version = pick_version(dict(row.body), row.latest)
        else:
            version = row.latest
        body = self.agents.version(conn, project, name, version)
        definition = fill_in(body["definition"], request.structured_inputs)
        return {"id": name, "name": name, "version": str(version)}, definition

    def _body(
        self, request: ResponseCreate, agent: Json | None, definition: Json, now: int
    ) -> Json:
        fields = request.model_fields_set

        def chosen(field: str, stored: str | None = None) -> Any:
            if field in fields and getattr(request, field) is not None:
                return getattr(request, field)
            return definition.get(stored or field)

        text_format = format_of(request.text) if "text" in fields else definition.get("format")
        return run_record(
            now,
            expires_at=None,
            agent=agent,
            model=request.model or definition.get("model"),
            instructions=chosen("instructions"),
            tools=chosen("tools") or [],
            tool_choice=chosen("tool_choice") or "auto",
            parallel_tool_calls=request.parallel_tool_calls is not False,
            temperature=chosen("temperature"),
            top_p=chosen("top_p"),
            format=text_format,
            max_output_tokens=request.max_output_tokens,
            truncation=request.truncation or "disabled",
            metadata=request.metadata or {},
            user=request.user,
            client_calls="end",
            background=bool(request.background),
            store=request.store is not False,
            include=request.include or [],
        )

    async def create(
        self,
        project: str,
        request: ResponseCreate,
        *,
        path_agent: str | None = None,
        run_id: str | None = None,
    ) -> Created:
        if request.previous_response_id and request.conversation is not None:
            raise BadRequest(
                "Only one of 'previous_response_id' and 'conversation' may be given.",
                param="previous_response_id",
            )
        if request.background and request.store is False:
            raise BadRequest("A background response must be stored ('store' cannot be false).")
        now_ms = self.store.clock()
        given = input_items(request.input, now_ms // 1000)
        made_id = run_id or new_id("resp")
        logged = request.stream or request.background
        opening = opening_news(bool(request.background)) if logged else None
        traceparent = tracing.incoming()

        def work(conn: Connection) -> Json:
            agent, definition = self._agent(conn, project, request, path_agent)
            body = self._body(request, agent, definition, now_ms // 1000)
            if traceparent is not None:
                body[tracing.TRACEPARENT] = traceparent
            VectorStores.check_tools(conn, project, body["tools"])
            conversation_id = request.conversation_id
            chain: list[str] = []
            previous = request.previous_response_id
            if previous is not None:
                before = self.row(conn, project, previous)
                if before.status not in TERMINAL:
                    raise BadRequest(
                        f"Previous response '{previous}' is still {before.status}.",
                        param="previous_response_id",
                    )
                chain = [*(dict(before.body).get("chain") or []), before.id]
                body["chain"] = chain
            if conversation_id is not None:
                if (
                    AgentStore.conversation_row(conn, project, conversation_id, API, lock=True)
                    is None
                ):
                    raise NotFound(f"Conversation with id '{conversation_id[:80]}' not found.")
                active = conversation_busy(conn, project, conversation_id)
                if active is not None:
                    raise BadRequest(
                        f"Another response ({active}) is in progress on conversation "
                        f"'{conversation_id}'.",
                        param="conversation",
                    )
            waiting = client_calls(conn, project, conversation_id=conversation_id, chain=chain)
            requests = approval_requests(
                conn, project, conversation_id=conversation_id, chain=chain
            )
            take_inputs(
                conn,
                self.store.ledger,
                project,
                given,
                conversation_id=conversation_id,
                run_id=made_id,
                waiting=waiting,
                now=now_ms,
                complete=True,
                requests=requests,
            )
            if conversation_id is not None:
                body["horizon"] = AgentStore.last_item_seq(conn, project, conversation_id)
            self.store.ledger.start(
                conn,
                project,
                made_id,
                body,
                api=API,
                conversation_id=conversation_id,
                previous_run_id=previous,
                now=now_ms,
                news=opening,
            )
            return self.render(conn, self.row(conn, project, made_id))

        response = await self.store.write(work)
        self.wake()
        numbered = [{**news, "number": n} for n, news in enumerate(opening or [])]
        return Created(response, made_id, numbered)

    async def settle(self, project: str, run_id: str, *, delete: bool) -> Json:
        """Wait for the run to end (a synchronous request), then the response; deleted
        after it is read when the client asked not to store it."""
        response = await self.wait(project, run_id, WAIT_LIMIT)
        if delete:
            await self.store.write(lambda conn: Ledger.delete(conn, [run_id], keep_items=True))
        return response

    async def wait(self, project: str, run_id: str, limit: float) -> Json:
        deadline = time.monotonic() + limit
        delay = 0.02
        with watch_run(self.bus, run_id) as news:
            while True:
                response, status = await self.store.read(
                    lambda conn: self._state(conn, project, run_id)
                )
                left = deadline - time.monotonic()
                if status in TERMINAL or left <= 0:
                    return response
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(news.get(), min(delay, left))
                    delay = 0.02
                    continue
                delay = min(delay * 2, 1.0)

    def _state(self, conn: Connection, project: str, run_id: str) -> tuple[Json, str]:
        row = self.row(conn, project, run_id)
        return self.render(conn, row), row.status

    # Changing ------------------------------------------------------------------------------

    async def cancel(self, project: str, response_id: str) -> Json:
        def work(conn: Connection) -> str:
            row = self.row(conn, project, response_id)
            if not dict(row.body).get("background"):
                raise BadRequest(
                    "Only a response created with background=true can be cancelled.",
                    param="response_id",
                )
            if row.status in (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.INCOMPLETE):
                raise BadRequest(f"Cannot cancel a response that is {row.status}.")
            if row.status not in TERMINAL:
                self.store.ledger.cancel(conn, response_id, self.store.clock())
            return str(row.status)

        await self.store.write(work)
        self.wake()
        if self.bus is not None:
            self.bus.changed(response_id)
        return await self.wait(project, response_id, CANCEL_WAIT)

    async def delete(self, project: str, response_id: str) -> Json:
        def work(conn: Connection) -> None:
            self.row(conn, project, response_id)
            Ledger.delete(conn, [response_id], keep_items=True)

        await self.store.write(work)
        return {"id": response_id, "object": "response.deleted", "deleted": True}
