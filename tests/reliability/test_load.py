"""Sustained mixed traffic on one `ferry start`: queue put/receive/delete cycles and agent runs
with a queue tool, for 20 s in CI and 10 minutes with `make soak` (FERRY_SOAK=1). Memory is
sampled every second and must stay flat once warm; latency p50/p99 are printed.
"""

from __future__ import annotations

import statistics
import threading
import time
from pathlib import Path

import pytest
from azure.ai.agents import AgentsClient
from azure.core.exceptions import AzureError

from tests.agents.conftest import Ferry, StartFerry
from tests.agents.test_runs_ga import weather_tool
from tests.functions.conftest import queue_client
from tests.reliability.conftest import SOAK

DURATION = 600.0 if SOAK else 20.0
pytestmark = [pytest.mark.slow, pytest.mark.timeout(int(DURATION) + 180)]


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


class Traffic:
    """Client threads that keep the server busy and time every cycle."""

    def __init__(self, ferry: Ferry, agent: str) -> None:
        self.ferry = ferry
        self.agent = agent
        self.queue = queue_client(ferry.queues_url, "load", base64=False)
        self.stop = threading.Event()
        self.queue_ms: list[float] = []
        self.run_ms: list[float] = []
        self.errors: list[str] = []

    def queue_cycles(self) -> None:
        while not self.stop.is_set():
            began = time.perf_counter()
            try:
                self.queue.send_message("x" * 256)
                for message in self.queue.receive_messages(max_messages=1):
                    self.queue.delete_message(message)
            except AzureError as exc:
                self.errors.append(repr(exc))
            self.queue_ms.append((time.perf_counter() - began) * 1000)

    def runs(self) -> None:
        with self.ferry.agents() as client:
            while not self.stop.is_set():
                began = time.perf_counter()
                try:
                    self._one_run(client)
                except AzureError as exc:
                    self.errors.append(repr(exc))
                self.run_ms.append((time.perf_counter() - began) * 1000)

    def _one_run(self, client: AgentsClient) -> None:
        thread = client.threads.create()
        client.messages.create(
            thread_id=thread.id, role="user", content="What is the weather in Oslo?"
        )
        run = client.runs.create(thread_id=thread.id, agent_id=self.agent)
        while run.status in {"queued", "in_progress"}:
            time.sleep(0.02)
            run = client.runs.get(thread_id=thread.id, run_id=run.id)
        if run.status != "completed":
            self.errors.append(f"{run.id} {run.status} {run.last_error}")


def test_memory_stays_flat_under_sustained_mixed_load(start_ferry: StartFerry) -> None:
    ferry = start_ferry()
    pid = ferry.child.process.pid
    with ferry.agents() as client:
        agent = client.create_agent(
            model="m", name="load", tools=weather_tool(ferry.queues_url).definitions
        )
    traffic = Traffic(ferry, agent.id)
    traffic.queue.create_queue()
    workers = [threading.Thread(target=traffic.queue_cycles) for _ in range(2)]
    workers += [threading.Thread(target=traffic.runs) for _ in range(2)]
    for worker in workers:
        worker.start()
    samples: list[float] = []
    ended = time.monotonic() + DURATION
    while time.monotonic() < ended:
        samples.append(_rss_mb(pid))
        time.sleep(1.0)
    traffic.stop.set()
    for worker in workers:
        worker.join(60)
    queue_ms, run_ms = traffic.queue_ms, traffic.run_ms
    assert not traffic.errors, traffic.errors[:5]
    assert len(run_ms) > 20 and len(queue_ms) > 200
    quarter = max(1, len(samples) // 4)
    warm = statistics.median(samples[quarter : 2 * quarter])
    late = statistics.median(samples[-quarter:])
    print(
        f"duration={DURATION:.0f}s queue cycles={len(queue_ms)} "
        f"p50={_percentile(queue_ms, 0.5):.1f}ms p99={_percentile(queue_ms, 0.99):.1f}ms; "
        f"runs={len(run_ms)} p50={_percentile(run_ms, 0.5):.0f}ms "
        f"p99={_percentile(run_ms, 0.99):.0f}ms; "
        f"RSS MB first={samples[0]:.0f} warm={warm:.0f} late={late:.0f} max={max(samples):.0f}"
    )
    assert late <= warm * 1.15 + 10, samples
