"""Storage connection strings, as `local.settings.json` and the SDKs write them."""

from __future__ import annotations

from dataclasses import dataclass

from ferry.errors import ConfigError
from ferry.queues.auth.accounts import DEV_ACCOUNT, DEV_KEY

__all__ = ["DEV_QUEUE_ENDPOINT", "QueueConnection", "parse_connection_string"]

DEV_QUEUE_ENDPOINT = f"http://127.0.0.1:10001/{DEV_ACCOUNT}"


@dataclass(frozen=True, slots=True)
class QueueConnection:
    account: str
    endpoint: str
    """The queue service URL of the account, without a trailing slash."""
    key: str | None = None
    sas: str | None = None


def parse_connection_string(
    value: str, *, dev_endpoint: str = DEV_QUEUE_ENDPOINT
) -> QueueConnection:
    """`UseDevelopmentStorage=true` means the development account at `dev_endpoint`
    (Ferry passes its own queue service there)."""
    fields: dict[str, str] = {}
    for part in value.split(";"):
        if part.strip():
            name, sep, field_value = part.partition("=")
            if not sep:
                raise ConfigError(f"connection string part {part!r} is not Name=Value")
            fields[name.strip().lower()] = field_value.strip()
    if fields.get("usedevelopmentstorage", "").lower() == "true":
        proxy = fields.get("developmentstorageproxyuri")
        dev = f"{proxy.rstrip('/')}/{DEV_ACCOUNT}" if proxy else dev_endpoint
        return QueueConnection(DEV_ACCOUNT, dev.rstrip("/"), DEV_KEY)
    account = fields.get("accountname")
    endpoint = fields.get("queueendpoint")
    if endpoint is None:
        if account is None:
            raise ConfigError("a connection string needs AccountName or QueueEndpoint")
        protocol = fields.get("defaultendpointsprotocol", "https")
        suffix = fields.get("endpointsuffix", "core.windows.net")
        endpoint = f"{protocol}://{account}.queue.{suffix}"
    if account is None:
        account = endpoint.rstrip("/").rsplit("/", 1)[-1]
    sas = fields.get("sharedaccesssignature")
    key = fields.get("accountkey")
    if key is None and sas is None:
        raise ConfigError("a connection string needs AccountKey or SharedAccessSignature")
    return QueueConnection(account, endpoint.rstrip("/"), key, sas.lstrip("?") if sas else None)
