"""Ferry's own queue store, used in process: no HTTP, no auth, instant wake-ups.

What the store refuses, or a store failure, reaches callers as the `QueueEndpointError` a
remote Ferry's answer would become (`store_errors`), so that a trigger handles one family
whichever endpoint it has.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

from sqlalchemy import Connection

from ferry.clock import from_millis
from ferry.queues.endpoint import DEFAULT_TTL, QueueEndpoint, Received
from ferry.queues.errors import (
    InternalError,
    MessageNotFound,
    QueueAlreadyExists,
    QueueNotFound,
    QueueServiceError,
    ServerBusy,
    endpoint_refusal,
)
from ferry.queues.models import Message
from ferry.queues.store import QueueStore
from ferry.store.database import Database
from ferry.store.errors import StoreError, StoreUnavailable

__all__ = ["LocalEndpoint", "on_database", "store_errors"]


@contextlib.contextmanager
def store_errors() -> Iterator[None]:
    """The queue service's refusals and the store's failures as QueueEndpointErrors, by the
    status the service would answer with (`ferry.queues.wire.to_queue_error`'s rule: an
    unavailable store is 503 ServerBusy, any other failure 500 InternalError)."""
    try:
        yield
    except QueueServiceError as exc:
        raise endpoint_refusal(exc.status, exc.code, exc.message) from exc
    except StoreUnavailable as exc:
        raise endpoint_refusal(ServerBusy.status, ServerBusy.code, str(exc)) from exc
    except StoreError as exc:
        raise endpoint_refusal(InternalError.status, InternalError.code, str(exc)) from exc


def _received(message: Message) -> Received:
    assert message.pop_receipt is not None
    return Received(
        id=message.message_id,
        pop_receipt=message.pop_receipt,
        dequeue_count=message.dequeue_count,
        inserted_at=from_millis(message.inserted_at),
        expires_at=from_millis(message.expires_at),
        next_visible_at=from_millis(message.visible_at),
        text=message.text,
    )


class LocalEndpoint(QueueEndpoint):
    def __init__(self, store: QueueStore, account: str) -> None:
        self.store = store
        self.account = account
        self.name = f"Ferry's queue service, account {account} (in process)"

    async def receive(self, queue: str, count: int, visibility_timeout: int) -> list[Received]:
        with store_errors():
            try:
                messages = await self.store.get_messages(
                    self.account, queue, count=count, visibility_timeout=visibility_timeout
                )
            except QueueNotFound:
                return []
        return [_received(m) for m in messages]

    async def delete(self, queue: str, message: Received) -> None:
        with store_errors(), contextlib.suppress(MessageNotFound, QueueNotFound):
            await self.store.delete_message(self.account, queue, message.id, message.pop_receipt)

    async def hide(self, queue: str, message: Received, seconds: int) -> Received | None:
        with store_errors():
            try:
                updated = await self.store.update_message(
                    self.account,
                    queue,
                    message.id,
                    message.pop_receipt,
                    visibility_timeout=seconds,
                    text=None,
                )
            except (MessageNotFound, QueueNotFound):
                return None
        return _received(updated)

    async def put(self, queue: str, text: str) -> None:
        with store_errors():
            try:
                await self.store.put_message(
                    self.account, queue, text, visibility_timeout=0, ttl=DEFAULT_TTL
                )
            except QueueNotFound:
                with contextlib.suppress(QueueAlreadyExists):  # another put made it first
                    await self.store.create_queue(self.account, queue, {})
                await self.store.put_message(
                    self.account, queue, text, visibility_timeout=0, ttl=DEFAULT_TTL
                )

    async def ensure(self, queue: str) -> None:
        with store_errors(), contextlib.suppress(QueueAlreadyExists):
            await self.store.create_queue(self.account, queue, {})

    def arrivals(self, queue: str) -> asyncio.Event | None:
        if self.store.arrivals is None:
            return None
        return self.store.arrivals.event(self.account, queue)

    # -- inside another part's transaction ---------------------------------------------------
    # When the caller writes to the store's own database, a message it puts or takes can
    # commit with the caller's record of why (a tool call, an answer, an invocation): one
    # transaction instead of two, and never one without the other. The caller wakes this
    # process's consumers with `notify` once it has committed.

    @property
    def database(self) -> Database:
        return self.store.database

    def shares(self, database: Database) -> bool:
        """Whether a write on `database` can carry this endpoint's puts and deletes."""
        return self.store.database is database

    def put_within(self, conn: Connection, queue: str, text: str) -> None:
        """`put`, in the caller's transaction (the queue is created if need be)."""
        self.store.put_within(conn, self.account, queue, text, ttl=DEFAULT_TTL)

    def ensure_within(self, conn: Connection, queue: str) -> None:
        """`ensure`, in the caller's transaction."""
        self.store.ensure_within(conn, self.account, queue)

    def delete_within(self, conn: Connection, queue: str, message: Received) -> None:
        """`delete`, in the caller's transaction; one already gone is not an error."""
        self.store.delete_within(conn, self.account, queue, message.id, message.pop_receipt)

    def notify(self, queue: str) -> None:
        """After the caller's commit: wake this process's consumers of `queue`."""
        if self.store.arrivals is not None:
            self.store.arrivals.notify(self.account, queue)


def on_database(endpoint: QueueEndpoint, database: Database) -> LocalEndpoint | None:
    """`endpoint`, when it is the store this process holds on `database` (so that a write
    there can carry its puts and deletes); None for any other endpoint."""
    if isinstance(endpoint, LocalEndpoint) and endpoint.shares(database):
        return endpoint
    return None
