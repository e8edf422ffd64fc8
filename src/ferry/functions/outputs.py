"""Writes a successful invocation's queue outputs, encoded per host.json `messageEncoding`."""

from __future__ import annotations

import base64
import os
import re

from ferry.functions.connections import Connections
from ferry.functions.conversion import queue_payloads
from ferry.functions.errors import HostConfigError
from ferry.functions.invoker import Invocation
from ferry.functions.logs import host_log

__all__ = ["OutputWriter", "encode_message", "resolve_name"]

_SETTING = re.compile(r"%([^%]+)%")


def resolve_name(value: str, what: str) -> str:
    """Replace `%Setting%` parts with app settings, as binding expressions do."""

    def setting(match: re.Match[str]) -> str:
        found = os.environ.get(match.group(1))
        if found is None:
            raise HostConfigError(f"{what} uses %{match.group(1)}%, which is not set")
        return found

    return _SETTING.sub(setting, value)


def encode_message(payload: bytes, encoding: str) -> str:
    if encoding == "base64":
        return base64.b64encode(payload).decode("ascii")
    return payload.decode("utf-8", errors="replace")


class OutputWriter:
    def __init__(self, connections: Connections, encoding: str) -> None:
        self.connections = connections
        self.encoding = encoding

    async def write(self, invocation: Invocation) -> None:
        """Put every queue output; raises if a put fails (the invocation then counts as
        failed and its trigger message is retried)."""
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
                await endpoint.put(queue, encode_message(payload, self.encoding))

    async def settle(self, invocation: Invocation) -> bool:
        """Write the outputs of a successful invocation; a failed write fails it."""
        if not invocation.succeeded:
            return False
        try:
            await self.write(invocation)
        except Exception as exc:
            host_log.error(
                "Function '%s': writing its outputs failed: %s", invocation.function, exc
            )
            invocation.succeeded = False
        return invocation.succeeded
