"""From a queue service URL to something that can put and receive messages.

The run engine's `azure_function` bindings and the functions host's identity-based
connections both name a queue service by URL. When that URL is Ferry's own service at a
loopback address (path-style `http://127.0.0.1:<port>/<account>`), the store is used in
process, with instant wake-ups; any other service is reached with the real SDK, with a shared
key for accounts Ferry knows and Azure identity otherwise.

Whether a queue is "ours" is decided here only (`local_for`, `local_account`): the functions
host's connections, the run engine (which puts a call's message in the transaction recording
the call) and the answer collector (which deletes an answer with its record) all ask.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ferry.queues.auth.accounts import DEV_ACCOUNT, DEV_KEY, Accounts
from ferry.queues.endpoint import QueueEndpoint
from ferry.queues.endpoints.local import LocalEndpoint
from ferry.queues.errors import UnreachableQueueService
from ferry.queues.store import QueueStore
from ferry.store.database import Database

__all__ = ["LOOPBACK", "LocalQueues", "QueueLocator", "account_from_url"]

LOOPBACK = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}


@dataclass
class LocalQueues:
    """Ferry's own queue service in this process: its store and the accounts it serves."""

    store: QueueStore
    accounts: Accounts


def account_from_url(url: str) -> tuple[str, bool]:
    """(account, is loopback) for a queue service URL, path-style or host-style."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    segments = [s for s in parts.path.split("/") if s]
    if host in LOOPBACK or host.replace(".", "").isdigit():
        return (segments[0] if segments else ""), host in LOOPBACK
    return host.split(".", 1)[0], False


class QueueLocator:
    def __init__(self, local: LocalQueues | None, keys: Mapping[str, str] | None = None) -> None:
        self.local = local
        self.keys = {DEV_ACCOUNT: DEV_KEY, **(keys or {})}
        """Account name → base64 key of the accounts Ferry serves."""
        self._endpoints: dict[str, QueueEndpoint] = {}
        self._local: dict[str, LocalEndpoint] = {}

    def serves(self, account: str) -> bool:
        return self.local is not None and account in self.local.accounts

    def local_account(
        self, account: str, *, database: Database | None = None
    ) -> LocalEndpoint | None:
        """`account`'s queues in the store this process holds, if it holds them (for a
        setting that names the account rather than a URL); with `database`, only if the
        store is on it, so that a write there can carry puts and deletes."""
        if self.local is None or not self.serves(account):
            return None
        if database is not None and self.local.store.database is not database:
            return None
        found = self._local.get(account)
        if found is None:
            found = self._local[account] = LocalEndpoint(self.local.store, account)
        return found

    def local_for(
        self, url: str, *, account: str | None = None, database: Database | None = None
    ) -> LocalEndpoint | None:
        """The in-process endpoint when `url` is a loopback address and the account it names
        (or `account`, named beside it as a connection string does) has its queues in the
        store this process holds (`local_account`, `database` likewise); None for any other
        service, or a URL that is not one."""
        try:
            named, loopback = account_from_url(url)
        except ValueError:
            return None
        return self.local_account(account or named, database=database) if loopback else None

    def endpoint(self, url: str, *, client_id: str | None = None) -> QueueEndpoint:
        """The endpoint for a queue service URL (cached per URL); UnreachableQueueService if
        none can be made for it."""
        key = url.rstrip("/")
        if key not in self._endpoints:
            self._endpoints[key] = self._resolve(key, client_id)
        return self._endpoints[key]

    def _resolve(self, url: str, client_id: str | None) -> QueueEndpoint:
        from ferry.queues.endpoints.remote import RemoteEndpoint

        try:
            account, _loopback = account_from_url(url)
        except ValueError as exc:  # urlsplit's word for a malformed host ("http://[::1")
            raise UnreachableQueueService(f"{url!r} is not a queue service URL: {exc}") from None
        local = self.local_for(url)
        if local is not None:
            return local
        return RemoteEndpoint.from_url(url, self.credential(account, client_id))

    def credential(self, account: str, client_id: str | None = None) -> Any:
        """A shared key when the account is one Ferry knows; else Azure identity."""
        if account in self.keys:
            from azure.core.credentials import AzureNamedKeyCredential

            return AzureNamedKeyCredential(account, self.keys[account])
        try:
            from azure.identity.aio import (  # type: ignore[import-untyped,import-not-found,unused-ignore]
                DefaultAzureCredential,
            )
        except ImportError:
            raise UnreachableQueueService(
                f"the queue service of account '{account}' needs an Azure identity, which "
                "needs the azure-identity package in this Python (pip install azure-identity)"
            ) from None
        return DefaultAzureCredential(managed_identity_client_id=client_id)

    async def close(self) -> None:
        for endpoint in self._endpoints.values():
            await endpoint.close()
        self._endpoints.clear()
