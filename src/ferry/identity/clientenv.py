"""The variables a client needs to reach a running Ferry instance: what `ferry env` prints.

Everything comes from the instance's record in its data folder (written once it listens), so
the values are the ones it really serves; the token is signed with the folder's key.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

from ferry.errors import InstanceNotRunning
from ferry.identity.bundle import write_bundle
from ferry.identity.local import CA_VARIABLES
from ferry.identity.tokens import TokenIssuer
from ferry.instance import Instance
from ferry.queues.auth import DEV_ACCOUNT, DEV_KEY

__all__ = ["FORMATS", "LOCAL_RESOURCE_GROUP", "LOCAL_SUBSCRIPTION", "client_environment", "render"]

LOCAL_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
LOCAL_RESOURCE_GROUP = "ferry-local"
FORMATS = ("sh", "fish", "powershell", "dotenv", "json")


def client_environment(data: Path, project: str = "default") -> dict[str, str]:
    instance = Instance.read(data)
    services = instance.services
    missing = [
        name for name in ("agents", "queues", "queues_tls", "identity") if name not in services
    ]
    if missing:
        raise InstanceNotRunning(
            f"the instance using {data} does not serve {', '.join(missing)}: `ferry env` needs "
            "`ferry start` (queues, functions, agents and identity in one process)"
        )
    agents = services["agents"]
    endpoint = f"{agents}/api/projects/{project}"
    bundle = write_bundle(data / "tls" / "ca.pem")
    token = TokenIssuer(data).issue("https://ai.azure.com")
    variables = {
        "PROJECT_CONNECTION_STRING": (
            f"{urlsplit(agents).netloc};{LOCAL_SUBSCRIPTION};{LOCAL_RESOURCE_GROUP};{project}"
        ),
        "PROJECT_ENDPOINT": endpoint,
        "FOUNDRY_PROJECT_ENDPOINT": endpoint,
        "AZURE_AI_AGENTS_ENDPOINT": endpoint,
        "AZURE_AI_AGENTS_TOKEN": token.value,
        "STORAGE_CONNECTION__queueServiceUri": services["queues_tls"],
        "AzureWebJobsStorage": (
            f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};"
            f"QueueEndpoint={services['queues']}"
        ),
        "IDENTITY_ENDPOINT": services["identity"],
        "IDENTITY_HEADER": instance.secrets.get("identity_header", ""),
    }
    variables.update((name, str(bundle)) for name in CA_VARIABLES)
    return variables


def _single_quoted(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"


def render(variables: dict[str, str], form: str) -> str:
    if form == "json":
        return json.dumps(variables, indent=2)
    if form == "sh":
        lines = [f"export {k}={_single_quoted(v)}" for k, v in variables.items()]
    elif form == "fish":
        lines = [f"set -gx {k} {_fish_quoted(v)}" for k, v in variables.items()]
    elif form == "powershell":
        lines = [f"$env:{k} = '{v.replace(chr(39), chr(39) * 2)}'" for k, v in variables.items()]
    elif form == "dotenv":
        lines = [f'{k}="{_dotenv_quoted(v)}"' for k, v in variables.items()]
    else:
        raise ValueError(f"unknown format {form!r}; use one of {', '.join(FORMATS)}")
    return "\n".join(lines)


def _fish_quoted(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _dotenv_quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')
