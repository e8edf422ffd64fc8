"""A cluster on one PostgreSQL database: 2 `ferry serve queues`, 2 `ferry serve agents
--no-engine`, 2 `ferry worker` and 2 function hosts (`ferry functions --database-url`), each
its own process. Under load, `kill -9` takes out one process of each kind; clients move to the
survivors, and every acknowledged run completes exactly once, every acknowledged put is there.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from azure.ai.agents import AgentsClient
from azure.ai.agents.models import MessageRole
from azure.core.exceptions import AzureError
from azure.storage.queue import QueueClient

from ferry.spawn import Child, spawn
from tests.agents.conftest import APPS, FerryCredential
from tests.agents.test_runs_ga import weather_tool
from tests.functions.conftest import connection_string
from tests.reliability.conftest import SOAK
from tests.reliability.test_crash import TRAFFIC, Ledger, _queued

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.timeout(600 if SOAK else 240),
    # Connections cut by the kills are left to the garbage collector by the HTTP client.
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

LOAD_SECONDS = 60 if SOAK else 4


class Worker:
    """`ferry worker` opens no port, so it is started without waiting for an instance."""

    def __init__(self, url: str, data: Path) -> None:
        self.log = (data.parent / f"{data.name}.log").open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ferry", "worker", "--database-url", url, "--data", str(data)],
            env={**os.environ, "FERRY_RUN_LEASE": "1", "NO_COLOR": "1"},
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()
        self.log.close()


class Cluster:
    def __init__(self, root: Path, url: str) -> None:
        database = ["--database-url", url]
        self.queues = [
            spawn(["serve", "queues", "--port", "0", *database], root / f"queues{i}")
            for i in range(2)
        ]
        self.agents = [
            spawn(["serve", "agents", "--port", "0", "--no-engine", *database], root / f"api{i}")
            for i in range(2)
        ]
        self.workers = [Worker(url, root / f"worker{i}") for i in range(2)]
        self.hosts: list[Child] = []
        for i in range(2):
            app = root / f"app{i}"
            shutil.copytree(APPS / "weather", app)
            self.hosts.append(
                spawn(
                    ["functions", "--app", str(app), "--http-port", "0", *database],
                    root / f"host{i}",
                    env={"FERRY_TRIGGER_HOLD": "2"},
                )
            )
        self.alive = {"queues": [0, 1], "agents": [0, 1]}

    def client(self, index: int) -> AgentsClient:
        child = self.agents[index]
        return AgentsClient(
            f"{child.url('agents')}/api/projects/cluster",
            FerryCredential(child.data),
            connection_verify=str(child.data / "tls" / "ca.pem"),
            retry_total=0,
        )

    def queue(self, index: int, name: str = TRAFFIC) -> QueueClient:
        url = connection_string(self.queues[index].url("queues"))
        return QueueClient.from_connection_string(url, name, retry_total=0)

    def kill_one_of_each(self) -> None:
        self.alive = {"queues": [0], "agents": [0]}
        self.queues[1].kill()
        self.agents[1].kill()
        self.workers[1].kill()
        self.hosts[1].kill()

    def stop(self) -> None:
        for child in [*self.queues, *self.agents, *self.hosts]:
            child.kill()
        for worker in self.workers:
            if worker.process.poll() is None:
                worker.kill()


@pytest.fixture
def cluster(tmp_path: Path, postgres_databases: Callable[[], str]) -> Iterator[Cluster]:
    made = Cluster(tmp_path, postgres_databases())
    yield made
    made.stop()


def _load(
    cluster: Cluster, agents: list[str], ledger: Ledger, stop: threading.Event, lane: int
) -> None:
    """Runs and puts spread over the live servers of each kind; a refused request (its
    server was killed) moves on to the next server. `lane` keeps each thread's cities
    its own, so a put seen twice is a put stored twice."""
    turn = itertools.count()
    while not stop.is_set():
        number = next(turn)
        api = cluster.alive["agents"][number % len(cluster.alive["agents"])]
        store = cluster.alive["queues"][number % len(cluster.alive["queues"])]
        city = f"Town{lane}x{number}"
        try:
            with cluster.client(api) as client:
                ledger.run(client, agents[api], city)
            ledger.put(cluster.queue(store), f"put {city}")
        except (AzureError, OSError):
            with ledger.lock:
                ledger.failures += 1


def test_killing_one_process_of_each_kind_loses_nothing(cluster: Cluster) -> None:
    agents = []
    for index in range(2):
        with cluster.client(index) as client:
            tools = weather_tool(cluster.queues[0].url("queues")).definitions
            agents.append(client.create_agent(model="m", name=f"c{index}", tools=tools).id)
    cluster.queue(0).create_queue()
    ledger = Ledger()
    stop = threading.Event()
    threads = [
        threading.Thread(target=_load, args=(cluster, agents, ledger, stop, lane), daemon=True)
        for lane in range(3)
    ]
    for thread in threads:
        thread.start()
    time.sleep(LOAD_SECONDS / 2)
    before = len(ledger.runs)
    cluster.kill_one_of_each()
    time.sleep(LOAD_SECONDS / 2)
    stop.set()
    for thread in threads:
        thread.join(30)
    assert before > 0 and len(ledger.runs) > before, "the load did not run on both sides"
    deadline = time.monotonic() + 90
    with cluster.client(0) as client:
        for run_id, (thread_id, city) in ledger.runs.items():
            while (run := client.runs.get(thread_id=thread_id, run_id=run_id)).status in {
                "queued",
                "in_progress",
            }:
                if time.monotonic() > deadline:
                    steps = [
                        s.as_dict()
                        for s in client.run_steps.list(thread_id=thread_id, run_id=run_id)
                    ]
                    raise AssertionError(f"{run_id} stayed {run.status}: {steps}")
                time.sleep(0.1)
            assert run.status == "completed", (run_id, run.status, run.last_error)
            answers = [
                m for m in client.messages.list(thread_id=thread_id) if m.role == MessageRole.AGENT
            ]
            assert len(answers) == 1, run_id
            assert f"74 degrees and sunny in {city}" in answers[0].text_messages[0].text.value
    queued = _queued(cluster.queue(0))
    assert len(queued) == len(set(queued)), "a put was stored twice"
    assert ledger.puts <= set(queued) <= ledger.tried
    print(f"runs={len(ledger.runs)} puts={len(ledger.puts)} refused={ledger.failures}")
