"""From a queue service URL to something that can put and receive messages.

The run engine's `azure_function` bindings and the functions host's identity-based
connections both name a queue service by URL. When that URL is Ferry's own service at a
loopback address (path-style `http://127.0.0.1:<port>/<account>`), the store is used in
process, with instant wake-ups; any other service is reached with the real SDK, with a shared
key for accounts Ferry knows and Azure identity otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ferry.errors import FerryError
from ferry.queues.auth.accounts import DEV_ACCOUNT, DEV_KEY, Accounts
from ferry.queues.endpoint import QueueEndpoint
from ferry.queues.store import QueueStore

__all__ = ["LOOPBACK", "LocalQueues", "QueueLocator", "UnreachableQueueService", "account_from_url"]

LOOPBACK = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}


class UnreachableQueueService(FerryError):
    """A queue service URL cannot be used (no credential for it, or not a URL)."""


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

    def serves(self, account: str) -> bool:
        return self.local is not None and account in self.local.accounts

    def local_endpoint(self, account: str) -> QueueEndpoint:
        from ferry.queues.endpoints.local import LocalEndpoint

        assert self.local is not None
        return LocalEndpoint(self.local.store, account)

    def endpoint(self, url: str, *, client_id: str | None = None) -> QueueEndpoint:
        """The endpoint for a queue service URL (cached per URL)."""
        key = url.rstrip("/")
        if key not in self._endpoints:
            self._endpoints[key] = self._resolve(key, client_id)
        return self._endpoints[key]

    def _resolve(self, url: str, client_id: str | None) -> QueueEndpoint:
        from ferry.queues.endpoints.remote import RemoteEndpoint

        account, loopback = account_from_url(url)
        if loopback and self.serves(account):
            return self.local_endpoint(account)
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
