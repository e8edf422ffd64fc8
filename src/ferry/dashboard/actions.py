"""What a developer may change from the dashboard: cancel a run, delete a thread, purge a
queue, replay a poisoned message.

Each goes through the same service a client's request would (the run is cancelled by the
agents API's own service, so its pending calls are cancelled and streams hear of it; the
queue is changed by the queue store, so consumers wake), and each refusal is the service's
own, told to the page as an `ActionRefused`.
"""

from __future__ import annotations

from ferry.agents.errors import AgentsError
from ferry.agents.services import AgentServices
from ferry.dashboard.errors import ActionRefused
from ferry.dashboard.reads import POISON, RunRow
from ferry.queues.errors import QueueServiceError
from ferry.queues.store import QueueStore

__all__ = ["REPLAY_TTL", "Actions"]

REPLAY_TTL = 7 * 24 * 3600
"""Seconds a replayed message lives: the queue service's default time-to-live."""


class Actions:
    def __init__(self, services: AgentServices, queues: QueueStore) -> None:
        self.services = services
        self.queues = queues

    async def cancel(self, run: RunRow) -> None:
        """Cancel a classic run or a background v2 response, as the API's cancel would."""
        try:
            if run.api == "classic":
                await self.services.classic.cancel_run(
                    run.project, run.conversation_id or "", run.id
                )
            else:
                await self.services.responses.cancel(run.project, run.id)
        except AgentsError as exc:
            raise ActionRefused(exc.message, exc.status) from None

    async def delete_thread(self, project: str, thread_id: str) -> None:
        """A classic thread with its messages and runs (their waiting calls cancelled)."""
        try:
            await self.services.classic.delete_thread(project, thread_id)
        except AgentsError as exc:
            raise ActionRefused(exc.message, exc.status) from None

    async def purge(self, account: str, name: str) -> int:
        """Every message of the queue; how many there were."""
        try:
            return await self.queues.clear_messages(account, name)
        except QueueServiceError as exc:
            raise ActionRefused(exc.message, exc.status) from None

    async def replay(self, account: str, name: str, message_id: str) -> None:
        """The poisoned message back onto `name` for its trigger to try again, taken off
        `<name>-poison` in the same transaction."""
        try:
            moved = await self.queues.move_message(
                account, name + POISON, message_id, name, ttl=REPLAY_TTL
            )
        except QueueServiceError as exc:
            raise ActionRefused(exc.message, exc.status) from None
        if not moved:
            raise ActionRefused(
                f"{name}{POISON} holds no message {message_id}: it was replayed or has expired.",
                404,
            )
