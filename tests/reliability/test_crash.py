"""`kill -9` of `ferry start` at random moments under a mixed workload, then restart, several
times over: agent runs whose tool is a function reached over the queues, and plain queue
traffic, from client threads that keep going (and retry) while the server is down.

Afterwards every acknowledged run has completed with exactly one answer (the right one), every
acknowledged queue put is in its queue (a put cut off by a kill may be there too, never one
that was not sent), and nothing was written twice. The short form (CI) kills 3 times;
`make soak` (FERRY_SOAK=1) kills 15 times under more load. Both on SQLite and on PostgreSQL;
and on PostgreSQL the same load with the database restarted instead of Ferry killed.
"""

from __future__ import annotations

import random
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from azure.ai.agents import AgentsClient
from azure.ai.agents.models import MessageRole
from azure.core.exceptions import AzureError, ResourceNotFoundError
from azure.storage.queue import QueueClient

from ferry.spawn import Child, spawn
from tests.agents.conftest import APPS, FerryCredential
from tests.agents.test_runs_ga import weather_tool
from tests.conftest import BACKENDS, free_ports
from tests.functions.conftest import connection_string
from tests.reliability.conftest import SOAK, require_postgres_restart, restart_postgres

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(900 if SOAK else 240),
    # A connection cut by the kill is left for the garbage collector by the HTTP client
    # (azure-core over requests), which then warns: the client's affair, not the server's.
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

KILLS = 15 if SOAK else 3
TRAFFIC = "traffic"


@dataclass
class Ledger:
    """What the clients were told was done: only these must be there afterwards."""

    runs: dict[str, tuple[str, str]] = field(default_factory=dict)
    """run id → (thread id, city)."""
    puts: set[str] = field(default_factory=set)
    tried: set[str] = field(default_factory=set)
    """Puts sent: one cut off by a kill may be stored without its answer reaching us."""
    failures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, client: AgentsClient, agent_id: str, city: str) -> None:
        """Ask for `city`'s weather in a new thread; recorded once the run is acknowledged."""
        thread = client.threads.create()
        client.messages.create(
            thread_id=thread.id, role="user", content=f"What is the weather in {city}?"
        )
        run = client.runs.create(thread_id=thread.id, agent_id=agent_id)
        with self.lock:
            self.runs[run.id] = (thread.id, city)

    def put(self, queue: QueueClient, body: str) -> None:
        with self.lock:
            self.tried.add(body)
        queue.send_message(body)
        with self.lock:
            self.puts.add(body)


class Server:
    def __init__(self, root: Path, database_url: str | None = None) -> None:
        self.root = root
        self.app = root / "weather"
        shutil.copytree(APPS / "weather", self.app)
        self.data = root / "data"
        queue, tls, http, agents, identity = free_ports(5)
        self.args = ["start", "--app", str(self.app), "--queue-port", str(queue)]
        self.args += ["--queue-tls-port", str(tls), "--http-port", str(http)]
        self.args += ["--agents-port", str(agents), "--identity-port", str(identity)]
        if database_url:
            self.args += ["--database-url", database_url]
        self.env = {"FERRY_RUN_LEASE": "1", "FERRY_TRIGGER_HOLD": "2"}
        self.child: Child = self.start()

    def start(self) -> Child:
        self.child = spawn(self.args, self.data, env=self.env)
        return self.child

    def agents(self) -> AgentsClient:
        endpoint = f"{self.child.url('agents')}/api/projects/crash"
        return AgentsClient(
            endpoint,
            FerryCredential(self.data),
            connection_verify=str(self.data / "tls" / "ca.pem"),
            retry_total=0,
        )

    def queue(self, name: str) -> QueueClient:
        return QueueClient.from_connection_string(
            connection_string(self.child.url("queues")), name, retry_total=0
        )


def _workload(
    server: Server, agent_id: str, ledger: Ledger, stop: threading.Event, worker: int
) -> None:
    """Create runs and put messages until told to stop; a failure (the server is down) is
    retried with the next item, and only acknowledged items are recorded."""
    number = 0
    while not stop.is_set():
        number += 1
        city = f"City{worker}x{number}"
        try:
            with server.agents() as client:
                ledger.run(client, agent_id, city)
            ledger.put(server.queue(TRAFFIC), f"put {worker}.{number}")
        except (AzureError, OSError):
            with ledger.lock:
                ledger.failures += 1
            time.sleep(0.1)


def _settled(server: Server, ledger: Ledger, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    with server.agents() as client:
        for run_id, (thread_id, city) in ledger.runs.items():
            while True:
                run = client.runs.get(thread_id=thread_id, run_id=run_id)
                if run.status in {"completed", "failed", "cancelled", "expired", "incomplete"}:
                    break
                assert time.monotonic() < deadline, f"{run_id} stayed {run.status}"
                time.sleep(0.1)
            assert run.status == "completed", (run_id, run.status, run.last_error)
            answers = [
                m for m in client.messages.list(thread_id=thread_id) if m.role == MessageRole.AGENT
            ]
            assert len(answers) == 1, (run_id, [a.text_messages for a in answers])
            assert f"74 degrees and sunny in {city}" in answers[0].text_messages[0].text.value
            steps = [s.type for s in client.run_steps.list(thread_id=thread_id, run_id=run_id)]
            assert sorted(steps) == ["message_creation", "tool_calls"], (run_id, steps)


def _queued(queue: QueueClient) -> list[str]:
    """Every message of `queue`, each received once (hidden for the rest of the test)."""
    found: list[str] = []
    try:
        while batch := list(queue.receive_messages(max_messages=32, visibility_timeout=300)):
            found += [m.content for m in batch]
    except ResourceNotFoundError:
        pass
    return found


@pytest.fixture(params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_databases: Callable[[], str]
) -> Iterator[Server]:
    """`ferry start` on the weather app, on SQLite or on a fresh PostgreSQL database."""
    url = postgres_databases() if request.param == "postgres" else None
    started = Server(tmp_path, url)
    yield started
    started.child.kill()


def _start_load(server: Server, ledger: Ledger, stop: threading.Event) -> list[threading.Thread]:
    """An agent with the queue tool, then client threads creating runs and putting messages."""
    with server.agents() as client:
        agent = client.create_agent(
            model="gpt-4o-mini",
            name="crash",
            instructions="You are a helpful support agent.",
            tools=weather_tool(server.child.url("queues")).definitions,
        )
    server.queue(TRAFFIC).create_queue()
    workers = [
        threading.Thread(
            target=_workload, args=(server, agent.id, ledger, stop, worker), daemon=True
        )
        for worker in range(4 if SOAK else 2)
    ]
    for worker in workers:
        worker.start()
    return workers


def _check(server: Server, ledger: Ledger, workers: list[threading.Thread]) -> None:
    """Stop the load; every acknowledged run completed once, every acknowledged put is there."""
    time.sleep(1.0)
    for worker in workers:
        worker.join(30)
    _settled(server, ledger, timeout=120)
    queued = _queued(server.queue(TRAFFIC))
    assert sorted(queued) == sorted(set(queued)), "a put was stored twice"
    assert ledger.puts <= set(queued) <= ledger.tried


def test_kill_9_of_ferry_start_under_mixed_load(server: Server) -> None:
    chance = random.Random()
    ledger, stop = Ledger(), threading.Event()
    workers = _start_load(server, ledger, stop)
    for _ in range(KILLS):
        time.sleep(chance.uniform(0.3, 2.0))
        server.child.kill()
        time.sleep(chance.uniform(0.0, 0.5))
        server.start()
    time.sleep(1.0)
    stop.set()
    assert len(ledger.runs) >= KILLS, ledger  # the load really ran between the kills
    _check(server, ledger, workers)
    print(
        f"kills={KILLS} runs={len(ledger.runs)} puts={len(ledger.puts)} "
        f"refused while down={ledger.failures}"
    )


@pytest.mark.postgres
def test_postgres_restarted_under_mixed_load(
    tmp_path: Path, postgres_databases: Callable[[], str]
) -> None:
    """The database, not Ferry, goes away: `pg_ctlcluster … restart` under the same load.
    Requests fail while it is down; Ferry reconnects by itself, and the runs that were under
    way when it went (their writes cut off) still complete, exactly once."""
    require_postgres_restart()
    server = Server(tmp_path, postgres_databases())
    try:
        ledger, stop = Ledger(), threading.Event()
        workers = _start_load(server, ledger, stop)
        restarts = 3 if SOAK else 1
        for _ in range(restarts):
            time.sleep(1.5)
            restart_postgres()
        before = len(ledger.runs)
        deadline = time.monotonic() + 30
        while len(ledger.runs) < before + 5:  # runs are acknowledged again
            assert time.monotonic() < deadline, f"no recovery; failures={ledger.failures}"
            time.sleep(0.1)
        stop.set()
        _check(server, ledger, workers)
        print(
            f"restarts={restarts} runs={len(ledger.runs)} puts={len(ledger.puts)} "
            f"refused while down={ledger.failures}"
        )
    finally:
        server.child.kill()
