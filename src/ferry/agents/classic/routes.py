"""The classic agents API's routes: assistants, threads, messages, runs and run steps.

Every handler parses its body into a checked request (`ferry.agents.classic.requests`) and
calls one `ClassicService` method; streams are `RunStream`s.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from ferry.agents.bodies import parse_body
from ferry.agents.classic.requests import (
    AssistantCreate,
    AssistantUpdate,
    MessageCreate,
    MessageUpdate,
    RunCreate,
    RunUpdate,
    ThreadAndRunCreate,
    ThreadCreate,
    ThreadUpdate,
    ToolOutputs,
)
from ferry.agents.classic.service import ClassicService
from ferry.agents.classic.streaming import RunStream
from ferry.agents.errors import BadRequest
from ferry.agents.http import Call, Endpoints
from ferry.agents.http import json_response as _json
from ferry.ids import new_id

__all__ = ["ClassicRoutes"]


def _include(call: Call) -> list[str]:
    """`include[]`, repeated or comma-joined (the SDKs join them)."""
    values = call.request.query_params.getlist("include[]")
    return [part for value in values for part in value.split(",") if part]


class ClassicRoutes:
    def __init__(self, service: ClassicService, endpoints: Endpoints) -> None:
        self.service = service
        self.endpoints = endpoints

    # Agents --------------------------------------------------------------------------------

    async def create_assistant(self, call: Call) -> Response:
        request = parse_body(AssistantCreate, await call.body())
        return _json(await self.service.create_assistant(call.project, request))

    async def list_assistants(self, call: Call) -> Response:
        page = await self.service.list_assistants(call.project, **call.paging())
        return _json(page.to_json())

    async def get_assistant(self, call: Call) -> Response:
        return _json(await self.service.get_assistant(call.project, call.id("assistant_id")))

    async def update_assistant(self, call: Call) -> Response:
        request = parse_body(AssistantUpdate, await call.body(), empty_ok=True)
        return _json(
            await self.service.update_assistant(call.project, call.id("assistant_id"), request)
        )

    async def delete_assistant(self, call: Call) -> Response:
        assistant_id = call.id("assistant_id")
        await self.service.delete_assistant(call.project, assistant_id)
        return _json({"id": assistant_id, "object": "assistant.deleted", "deleted": True})

    # Threads -------------------------------------------------------------------------------

    async def create_thread(self, call: Call) -> Response:
        request = parse_body(ThreadCreate, await call.body(), empty_ok=True)
        for message in request.messages or []:
            message.parts  # noqa: B018 - refuses unsupported content before the transaction
        return _json(await self.service.create_thread(call.project, request))

    async def list_threads(self, call: Call) -> Response:
        page = await self.service.list_threads(call.project, **call.paging())
        return _json(page.to_json())

    async def get_thread(self, call: Call) -> Response:
        return _json(await self.service.get_thread(call.project, call.id("thread_id")))

    async def update_thread(self, call: Call) -> Response:
        request = parse_body(ThreadUpdate, await call.body(), empty_ok=True)
        return _json(
            await self.service.update_thread(
                call.project, call.id("thread_id"), request.metadata, request.tool_resources
            )
        )

    async def delete_thread(self, call: Call) -> Response:
        thread_id = call.id("thread_id")
        await self.service.delete_thread(call.project, thread_id)
        return _json({"id": thread_id, "object": "thread.deleted", "deleted": True})

    # Messages ------------------------------------------------------------------------------

    async def create_message(self, call: Call) -> Response:
        request = parse_body(MessageCreate, await call.body())
        return _json(await self.service.create_message(call.project, call.id("thread_id"), request))

    async def list_messages(self, call: Call) -> Response:
        page = await self.service.list_messages(
            call.project, call.id("thread_id"), call.query("run_id"), **call.paging()
        )
        return _json(page.to_json())

    async def get_message(self, call: Call) -> Response:
        return _json(
            await self.service.get_message(
                call.project, call.id("thread_id"), call.id("message_id")
            )
        )

    async def update_message(self, call: Call) -> Response:
        request = parse_body(MessageUpdate, await call.body(), empty_ok=True)
        return _json(
            await self.service.update_message(
                call.project, call.id("thread_id"), call.id("message_id"), request.metadata
            )
        )

    # Runs ----------------------------------------------------------------------------------

    def _stream(self, project: str, run: Any, opening: list[tuple[str, Any]]) -> Response:
        stream = RunStream(self.service.store, self.service.bus, project, run)
        return self._respond(stream, opening)

    @staticmethod
    def _respond(stream: RunStream, opening: list[tuple[str, Any]]) -> Response:
        return StreamingResponse(
            stream.events(opening),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache"},
        )

    def _watching(self, project: str, thread_id: str | None) -> RunStream:
        """A stream of a run about to be created, hearing of it from before it exists (so
        it begins without reading the store)."""
        run_id = new_id("run")
        stream = RunStream(
            self.service.store, self.service.bus, project, {"id": run_id, "thread_id": thread_id}
        )
        stream.watch(fresh=True)
        return stream

    async def create_run(self, call: Call) -> Response:
        request = parse_body(RunCreate, await call.body())
        thread_id = call.id("thread_id")
        if not request.stream:
            return _json(await self.service.create_run(call.project, thread_id, request))
        stream = self._watching(call.project, thread_id)
        try:
            run = await self.service.create_run(
                call.project, thread_id, request, run_id=stream.run["id"]
            )
        except BaseException:
            stream.close()
            raise
        stream.begin(run)
        return self._respond(stream, [("thread.run.created", run), ("thread.run.queued", run)])

    async def create_thread_and_run(self, call: Call) -> Response:
        request = parse_body(ThreadAndRunCreate, await call.body())
        thread = request.thread
        for message in (thread.messages if thread else None) or []:
            message.parts  # noqa: B018 - refuses unsupported content before the transaction
        if not request.stream:
            created = await self.service.create_thread_and_run(call.project, request)
            return _json(created.run)
        stream = self._watching(call.project, None)
        try:
            created = await self.service.create_thread_and_run(
                call.project, request, run_id=stream.run["id"]
            )
        except BaseException:
            stream.close()
            raise
        run = created.run
        stream.begin(run)
        return self._respond(
            stream,
            [
                ("thread.created", created.thread),
                ("thread.run.created", run),
                ("thread.run.queued", run),
            ],
        )

    async def list_runs(self, call: Call) -> Response:
        page = await self.service.list_runs(call.project, call.id("thread_id"), **call.paging())
        return _json(page.to_json())

    async def get_run(self, call: Call) -> Response:
        return _json(
            await self.service.get_run(call.project, call.id("thread_id"), call.id("run_id"))
        )

    async def update_run(self, call: Call) -> Response:
        request = parse_body(RunUpdate, await call.body(), empty_ok=True)
        return _json(
            await self.service.update_run(
                call.project, call.id("thread_id"), call.id("run_id"), request.metadata
            )
        )

    async def cancel_run(self, call: Call) -> Response:
        return _json(
            await self.service.cancel_run(call.project, call.id("thread_id"), call.id("run_id"))
        )

    async def submit_tool_outputs(self, call: Call) -> Response:
        request = parse_body(ToolOutputs, await call.body())
        given = request.tool_outputs or []
        outputs = {o.tool_call_id: o.output for o in given}
        approvals = {a.tool_call_id: (a.approve, a.headers) for a in request.tool_approvals or []}
        if len(outputs) != len(given) or len(approvals) != len(request.tool_approvals or []):
            raise BadRequest("the request names the same tool_call_id twice")
        thread_id, run_id = call.id("thread_id"), call.id("run_id")
        stream = None
        if request.stream:
            # What the client has seen is read before the outputs let the run go on.
            current = await self.service.get_run(call.project, thread_id, run_id)
            stream = RunStream(self.service.store, self.service.bus, call.project, current)
            await stream.resume()
        run = await self.service.submit_tool_outputs(
            call.project, thread_id, run_id, outputs, approvals
        )
        if stream is None:
            return _json(run)
        stream.run = run
        return self._respond(stream, [("thread.run.queued", run)])

    async def list_steps(self, call: Call) -> Response:
        page = await self.service.list_steps(
            call.project, call.id("thread_id"), call.id("run_id"), _include(call), **call.paging()
        )
        return _json(page.to_json())

    async def get_step(self, call: Call) -> Response:
        return _json(
            await self.service.get_step(
                call.project,
                call.id("thread_id"),
                call.id("run_id"),
                call.id("step_id"),
                _include(call),
            )
        )

    def operations(self) -> list[Route]:
        e = self.endpoints.wrap
        threads = "/threads/{thread_id}"
        runs = f"{threads}/runs/{{run_id}}"
        return [
            Route("/assistants", e(self.create_assistant), methods=["POST"]),
            Route("/assistants", e(self.list_assistants), methods=["GET"]),
            Route("/assistants/{assistant_id}", e(self.get_assistant), methods=["GET"]),
            Route("/assistants/{assistant_id}", e(self.update_assistant), methods=["POST"]),
            Route("/assistants/{assistant_id}", e(self.delete_assistant), methods=["DELETE"]),
            Route("/threads", e(self.create_thread), methods=["POST"]),
            Route("/threads", e(self.list_threads), methods=["GET"]),
            Route("/threads/runs", e(self.create_thread_and_run), methods=["POST"]),
            Route(threads, e(self.get_thread), methods=["GET"]),
            Route(threads, e(self.update_thread), methods=["POST"]),
            Route(threads, e(self.delete_thread), methods=["DELETE"]),
            Route(f"{threads}/messages", e(self.create_message), methods=["POST"]),
            Route(f"{threads}/messages", e(self.list_messages), methods=["GET"]),
            Route(f"{threads}/messages/{{message_id}}", e(self.get_message), methods=["GET"]),
            Route(f"{threads}/messages/{{message_id}}", e(self.update_message), methods=["POST"]),
            Route(f"{threads}/runs", e(self.create_run), methods=["POST"]),
            Route(f"{threads}/runs", e(self.list_runs), methods=["GET"]),
            Route(runs, e(self.get_run), methods=["GET"]),
            Route(runs, e(self.update_run), methods=["POST"]),
            Route(f"{runs}/cancel", e(self.cancel_run), methods=["POST"]),
            Route(f"{runs}/submit_tool_outputs", e(self.submit_tool_outputs), methods=["POST"]),
            Route(f"{runs}/steps", e(self.list_steps), methods=["GET"]),
            Route(f"{runs}/steps/{{step_id}}", e(self.get_step), methods=["GET"]),
        ]
