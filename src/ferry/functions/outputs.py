"""Writes a successful invocation's queue outputs, encoded per host.json `messageEncoding`.

Outputs go through each binding's endpoint one put at a time; but when every one of them goes
to the store this process holds, on the database the caller writes to, they are put inside
the caller's own transaction (`settle_within`): a queue trigger's outputs, its message's
deletion and the invocation's record commit together, or none of them does.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection

from ferry.functions.connections import Connections
from ferry.functions.conversion import queue_payloads
from ferry.functions.errors import HostConfigError
from ferry.functions.invoker import Invocation
from ferry.functions.logs import host_log
from ferry.queues.encoding import encode_body
from ferry.queues.endpoint import QueueEndpoint
from ferry.queues.endpoints.local import on_database
from ferry.store.database import Database

__all__ = ["OutputWriter", "Put", "resolve_name"]

_SETTING = re.compile(r"%([^%]+)%")


def resolve_name(value: str, what: str) -> str:
    """Replace `%Setting%` parts with app settings, as binding expressions do."""

    def setting(match: re.Match[str]) -> str:
        found = os.environ.get(match.group(1))
        if found is None:
            raise HostConfigError(f"{what} uses %{match.group(1)}%, which is not set")
        return found

    return _SETTING.sub(setting, value)


@dataclass(frozen=True)
class Put:
    """One message an output binding puts."""

    endpoint: QueueEndpoint
    queue: str
    text: str


class OutputWriter:
    def __init__(self, connections: Connections, encoding: str) -> None:
        self.connections = connections
        self.encoding = encoding

    def puts(self, invocation: Invocation) -> list[Put]:
        """Every queue output as the message to put: names resolved, values converted and
        encoded. Raises as a failed write would (the binding cannot be resolved)."""
        found = []
        for param, datum in invocation.outputs:
            if param.binding.type != "queue":
                continue
            queue = resolve_name(
                str(param.binding.setting("queueName", "")), f"output '{param.name}'"
            ).lower()
            endpoint = self.connections.endpoint(
                param.binding.setting("connection"), invocation.function
            )
            for payload in queue_payloads(datum):
                found.append(Put(endpoint, queue, encode_body(payload, self.encoding)))
        return found

    async def write(self, invocation: Invocation) -> None:
        """Put every queue output; raises if a put fails (the invocation then counts as
        failed and its trigger message is retried)."""
        for put in self.puts(invocation):
            await put.endpoint.put(put.queue, put.text)

    async def settle(self, invocation: Invocation) -> bool:
        """Write the outputs of a successful invocation; a failed write fails it."""
        if not invocation.succeeded:
            return False
        # Deliberately broad: whatever stops the outputs (an endpoint's QueueEndpointError, a
        # binding the host cannot resolve, a value that cannot be converted) fails the
        # invocation, so that its trigger message is retried rather than lost.
        try:
            await self.write(invocation)
        except Exception as exc:
            self._failed(invocation, exc)
        return invocation.succeeded

    async def settle_within(
        self, invocation: Invocation, database: Database, also: Callable[[Connection], None]
    ) -> bool | None:
        """`settle`, in one transaction on `database` with `also` (the caller's own writes),
        when every output goes to the store this process holds on that database; None
        (nothing written) when some output does not, and the caller settles the usual way.
        A failed transaction fails the invocation, as a failed put does."""
        if not invocation.succeeded:
            return False
        try:
            puts = self.puts(invocation)
        except Exception as exc:  # as in `settle`
            self._failed(invocation, exc)
            return False
        local = [
            (endpoint, put)
            for put in puts
            if (endpoint := on_database(put.endpoint, database)) is not None
        ]
        if len(local) != len(puts):
            return None

        def work(conn: Connection) -> None:
            for endpoint, put in local:
                endpoint.put_within(conn, put.queue, put.text)
            also(conn)

        try:
            await database.write(work)
        except Exception as exc:  # as in `settle`: the trigger message is retried
            self._failed(invocation, exc)
            return False
        for endpoint, put in local:
            endpoint.notify(put.queue)
        return True

    @staticmethod
    def _failed(invocation: Invocation, exc: Exception) -> None:
        host_log.error("Function '%s': writing its outputs failed: %s", invocation.function, exc)
        invocation.succeeded = False
        invocation.error = f"writing its outputs failed: {exc}"
