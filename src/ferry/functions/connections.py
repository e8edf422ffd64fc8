"""Which queue service a binding's `connection` setting means.

As in the real host, `connection` names a setting (default `AzureWebJobsStorage`; `X` is also
looked up as `AzureWebJobsX`) that holds a connection string, or identity-based settings
`X__queueServiceUri` / `X__serviceUri` / `X__accountName`. When Ferry serves the queues in
this process, the development account (`UseDevelopmentStorage=true` or its well-known
connection string, whatever port it names) and any account Ferry serves at a loopback
address resolve to the store itself; everything else is reached over HTTP.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ferry.errors import ConfigError
from ferry.functions.endpoint import QueueEndpoint
from ferry.functions.errors import ConnectionSettingError
from ferry.queues.auth.accounts import DEV_ACCOUNT, DEV_KEY, Accounts
from ferry.queues.connection import parse_connection_string
from ferry.queues.store import QueueStore

__all__ = ["Connections", "LocalQueues"]

DEFAULT_CONNECTION = "AzureWebJobsStorage"
_LOOPBACK = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}


@dataclass
class LocalQueues:
    """Ferry's own queue service in this process: its store and the accounts it serves."""

    store: QueueStore
    accounts: Accounts


def _account_from_url(url: str) -> tuple[str, bool]:
    """(account, is loopback) for a queue service URL, path-style or host-style."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    segments = [s for s in parts.path.split("/") if s]
    if host in _LOOPBACK or host.replace(".", "").isdigit():
        return (segments[0] if segments else ""), host in _LOOPBACK
    return host.split(".", 1)[0], False


class Connections:
    def __init__(
        self,
        local: LocalQueues | None = None,
        *,
        keys: Mapping[str, str] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.local = local
        self.keys = {DEV_ACCOUNT: DEV_KEY, **(keys or {})}
        """Account name → base64 key of the accounts Ferry serves (for identity-based
        settings that point at them over HTTP)."""
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

    def _local(self, account: str) -> QueueEndpoint:
        from ferry.functions.endpoints.local import LocalEndpoint

        assert self.local is not None
        return LocalEndpoint(self.local.store, account)

    def _serves(self, account: str) -> bool:
        return self.local is not None and account in self.local.accounts

    def _resolve(self, name: str, function: str) -> QueueEndpoint:
        from ferry.functions.endpoints.remote import RemoteEndpoint

        value = self._setting(name)
        if value is not None:
            try:
                connection = parse_connection_string(value)
            except ConfigError as exc:
                raise ConnectionSettingError(
                    f"function '{function}': setting '{name}' is not a usable connection "
                    f"string: {exc}"
                ) from None
            if self._serves(connection.account):
                development = connection.account == DEV_ACCOUNT
                if development or _account_from_url(connection.endpoint)[1]:
                    return self._local(connection.account)
            return RemoteEndpoint.from_connection_string(value)
        uri = self._setting(f"{name}__queueServiceUri") or self._setting(f"{name}__serviceUri")
        account_name = self._setting(f"{name}__accountName")
        if uri is None and account_name is not None:
            if self._serves(account_name):
                return self._local(account_name)
            uri = f"https://{account_name}.queue.core.windows.net"
        if uri is None:
            raise ConnectionSettingError(
                f"function '{function}': connection '{name}' is not configured: set '{name}' "
                f"to a connection string (e.g. UseDevelopmentStorage=true), or "
                f"'{name}__queueServiceUri' to the queue service's URL"
            )
        account, loopback = _account_from_url(uri)
        if self._serves(account) and loopback:
            return self._local(account)
        return RemoteEndpoint.from_url(uri, self._credential(name, account, function))

    def _credential(self, name: str, account: str, function: str) -> Any:
        """A shared key when the account is one Ferry knows; else Azure identity."""
        if account in self.keys:
            from azure.core.credentials import AzureNamedKeyCredential

            return AzureNamedKeyCredential(account, self.keys[account])
        try:
            from azure.identity.aio import (  # type: ignore[import-untyped,import-not-found,unused-ignore]
                DefaultAzureCredential,
            )
        except ImportError:
            raise ConnectionSettingError(
                f"function '{function}': connection '{name}' is identity-based, which needs "
                "the azure-identity package in this Python (pip install azure-identity)"
            ) from None
        client_id = self._setting(f"{name}__clientId")
        return DefaultAzureCredential(managed_identity_client_id=client_id)
