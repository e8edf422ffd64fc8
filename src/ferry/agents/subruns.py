"""Runs of connected agents, started through the classic API's service (`ferry.tools.
connected` asks for them): each on a new thread, with the task as its user message."""

from __future__ import annotations

from ferry.agents.classic.requests import MessageCreate, ThreadAndRunCreate, ThreadCreate
from ferry.agents.classic.service import ClassicService
from ferry.tools.connected import ChildRun

__all__ = ["ClassicSubRuns"]


class ClassicSubRuns:
    def __init__(self, service: ClassicService) -> None:
        self.service = service

    async def start(
        self, project: str, agent_id: str, task: str, metadata: dict[str, str]
    ) -> ChildRun:
        request = ThreadAndRunCreate(
            assistant_id=agent_id,
            thread=ThreadCreate(messages=[MessageCreate(role="user", content=task)]),
            metadata=metadata,
        )
        run = (await self.service.create_thread_and_run(project, request)).run
        return ChildRun(run["thread_id"], run["id"], run["status"])

    async def read(self, project: str, child: ChildRun) -> ChildRun:
        run = await self.service.get_run(project, child.thread_id, child.run_id)
        answer = None
        if run["status"] == "completed":
            page = await self.service.list_messages(
                project,
                child.thread_id,
                child.run_id,
                limit=1,
                order="desc",
                after=None,
                before=None,
            )
            for message in page.data:
                answer = "".join(
                    part["text"]["value"] for part in message["content"] if part["type"] == "text"
                )
        error = (run.get("last_error") or {}).get("message")
        return ChildRun(child.thread_id, child.run_id, run["status"], answer, error)

    async def cancel(self, project: str, child: ChildRun) -> None:
        await self.service.cancel_run(project, child.thread_id, child.run_id)
