"""Real storage queues as a drop-in: the seed's scenario with its queues in a storage service
that is not Ferry's.

Azure Storage itself is out of reach from here, so the stand-in is Azure's own emulator,
Azurite, listening on another loopback address (127.0.0.2: a host other than the one Ferry
serves, yet test traffic never leaves the machine) with an account of its own (`contoso`),
the way a storage account is reached over the network. Ferry serves only the
agent service and the functions host: the run engine puts the tool call on Azurite's `input`
queue and reads the answer from Azurite's `output` queue; the host's trigger and output
binding use Azurite through the app's connection string.
"""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.ai.agents.models import MessageRole, RunStatus
from azure.storage.queue import QueueServiceClient

from tests.agents.conftest import StartFerry
from tests.agents.test_runs_ga import wait_for, weather_tool
from tests.conftest import IN_CI, free_ports

pytestmark = pytest.mark.slow

ROOT = Path(__file__).parent.parent.parent
AZURITE = ROOT / ".bench" / "azurite" / "node_modules" / ".bin" / "azurite-queue"
ACCOUNT = "contoso"
KEY = base64.b64encode(b"a key of contoso's own, not the dev one").decode()


def _missing(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: this test must run)")
    pytest.skip(reason)


STORAGE_HOST = "127.0.0.2"
"""Another loopback address: Ferry binds 127.0.0.1, so a queue service here is not its own."""


@pytest.fixture
def azurite(tmp_path: Path) -> Iterator[str]:
    """Azurite's queue service with the `contoso` account; yields that account's URL."""
    if not AZURITE.exists():
        _missing("Azurite is not installed (`make test` installs it into .bench/azurite)")
    address = STORAGE_HOST
    (port,) = free_ports(1)
    log = open(tmp_path / "azurite.log", "wb")  # noqa: SIM115 - handed to the child
    process = subprocess.Popen(
        [str(AZURITE), "--queueHost", address, "--queuePort", str(port)]
        + ["--location", str(tmp_path / "azurite"), "--skipApiVersionCheck", "--silent"],
        env={**os.environ, "AZURITE_ACCOUNTS": f"{ACCOUNT}:{KEY}"},
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    log.close()
    url = f"http://{address}:{port}/{ACCOUNT}"
    # Node starts Azurite in a second or two; on a loaded two-core machine it has taken
    # longer than 30 s.
    deadline = time.monotonic() + 90
    while True:
        try:  # a plain connect: the SDK would retry a refused connection for many seconds
            socket.create_connection((address, port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                code = process.wait()
                raise AssertionError(
                    f"Azurite did not start (exit status {code}): "
                    f"{(tmp_path / 'azurite.log').read_text()}"
                ) from None
            time.sleep(0.2)
    yield url
    process.kill()  # Azurite may take more than ten seconds to honour SIGTERM
    process.wait()


def _client(url: str) -> QueueServiceClient:
    return QueueServiceClient.from_connection_string(
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};QueueEndpoint={url}"
    )


def test_seed_scenario_with_its_queues_in_another_storage_service(
    start_ferry: StartFerry, azurite: str
) -> None:
    connection = (
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};"
        f"QueueEndpoint={azurite}"
    )
    # The app's binding connection points at Azurite; FERRY_ACCOUNTS gives the run engine the
    # account key it signs its puts and receives with (in Azure: a managed identity).
    ferry = start_ferry(
        env={"AzureWebJobsStorage": connection, "FERRY_ACCOUNTS": f"{ACCOUNT}:{KEY}"}
    )
    with ferry.agents() as client:
        agent = client.create_agent(
            model="gpt-4o-mini", name="weather", tools=weather_tool(azurite).definitions
        )
        thread = client.threads.create()
        client.messages.create(
            thread_id=thread.id, role="user", content="What is the weather in Seattle, WA?"
        )
        run = client.runs.create(thread_id=thread.id, agent_id=agent.id)
        run = wait_for(client, thread.id, run.id, {"completed", "failed", "expired"})
        assert run.status == RunStatus.COMPLETED, run.last_error
        last = client.messages.get_last_message_text_by_role(thread.id, MessageRole.AGENT)
        assert last is not None and "74 degrees and sunny in Seattle, WA" in last.text.value

    # The queues the call went through are Azurite's, and Ferry's own store never had them.
    in_azurite = {q.name for q in _client(azurite).list_queues()}
    assert {"input", "output"} <= in_azurite
    ours = QueueServiceClient.from_connection_string(
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};"
        f"QueueEndpoint={ferry.queues_url.rsplit('/', 1)[0]}/{ACCOUNT}"
    )
    assert [q.name for q in ours.list_queues()] == []
    # Both messages were consumed: the call by the host, the answer by the run engine.
    for name in ("input", "output"):
        assert (
            _client(azurite).get_queue_client(name).get_queue_properties().approximate_message_count
            == 0
        )
