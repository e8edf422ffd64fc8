"""Which queue service a binding's `connection` setting means.

As in the real host, `connection` names a setting (default `AzureWebJobsStorage`; `X` is also
looked up as `AzureWebJobsX`) that holds a connection string, or identity-based settings
`X__queueServiceUri` / `X__serviceUri` / `X__accountName`. When Ferry serves the queues in
this process, the development account (`UseDevelopmentStorage=true` or its well-known
connection string, whatever port it names) and any account Ferry serves at a loopback
address resolve to the store itself (the locator says which: `QueueLocator.local_for`);
everything else is reached over HTTP.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from ferry.errors import ConfigError
from ferry.functions.errors import ConnectionSettingError
from ferry.queues.auth.accounts import DEV_ACCOUNT
from ferry.queues.connection import parse_connection_string
from ferry.queues.endpoint import QueueEndpoint
from ferry.queues.errors import UnreachableQueueService
from ferry.queues.locator import QueueLocator, account_from_url

__all__ = ["Connections"]

DEFAULT_CONNECTION = "AzureWebJobsStorage"


class Connections:
    def __init__(self, locator: QueueLocator, *, environ: Mapping[str, str] | None = None) -> None:
        """`locator` knows the queues this process serves itself (or shares the database
        of) and their keys; the platform gives the run engine the same one."""
        self.locator = locator
        self.environ = environ if environ is not None else os.environ
        self._endpoints: dict[str, QueueEndpoint] = {}

    def endpoint(self, setting: str | None, function: str) -> QueueEndpoint:
        """The endpoint for a binding's `connection` (cached per setting)."""
        name = setting or DEFAULT_CONNECTION
        if name not in self._endpoints:
            self._endpoints[name] = self._resolve(name, function)
        return self._endpoints[name]

    async def close(self) -> None:
        for endpoint in self._endpoints.values():
            await endpoint.close()
        self._endpoints.clear()

    def _setting(self, name: str) -> str | None:
        for candidate in (name, f"AzureWebJobs{name}"):
            value = self.environ.get(candidate)
            if value:
                return value
        return None

    def _resolve(self, name: str, function: str) -> QueueEndpoint:
        from ferry.queues.endpoints.remote import RemoteEndpoint

        value = self._setting(name)
        if value is not None:
            try:
                connection = parse_connection_string(value)
            except ConfigError as exc:
                raise ConnectionSettingError(
                    f"function '{function}': setting '{name}' is not a usable connection "
                    f"string: {exc}"
                ) from None
            if connection.account == DEV_ACCOUNT:  # whatever port it names
                local = self.locator.local_account(DEV_ACCOUNT)
            else:
                local = self.locator.local_for(connection.endpoint, account=connection.account)
            if local is not None:
                return local
            return RemoteEndpoint.from_connection_string(value)
        uri = self._setting(f"{name}__queueServiceUri") or self._setting(f"{name}__serviceUri")
        account_name = self._setting(f"{name}__accountName")
        if uri is None and account_name is not None:
            local = self.locator.local_account(account_name)
            if local is not None:
                return local
            uri = f"https://{account_name}.queue.core.windows.net"
        if uri is None:
            raise ConnectionSettingError(
                f"function '{function}': connection '{name}' is not configured: set '{name}' "
                f"to a connection string (e.g. UseDevelopmentStorage=true), or "
                f"'{name}__queueServiceUri' to the queue service's URL"
            )
        local = self.locator.local_for(uri)
        if local is not None:
            return local
        account, _loopback = account_from_url(uri)
        return RemoteEndpoint.from_url(uri, self._credential(name, account, function))

    def _credential(self, name: str, account: str, function: str) -> Any:
        try:
            return self.locator.credential(account, self._setting(f"{name}__clientId"))
        except UnreachableQueueService as exc:
            raise ConnectionSettingError(
                f"function '{function}': connection '{name}' is identity-based: {exc}"
            ) from None
