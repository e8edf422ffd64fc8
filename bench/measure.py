"""The measurements, each run the same way against every server."""

from __future__ import annotations

import statistics
import threading
import time
from dataclasses import dataclass, field
from typing import TextIO

import httpx
from azure.storage.queue import QueueClient

from bench import load
from bench.servers import Server, restart

VERSION = {"x-ms-version": "2026-10-06"}


def fresh_queue(server: Server, sas: str, name: str) -> str:
    """An empty queue; returns its URL."""
    url = f"{server.url}/{name}"
    httpx.delete(f"{url}?{sas}", headers=VERSION, timeout=60)
    response = httpx.put(f"{url}?{sas}", headers=VERSION, timeout=60)
    response.raise_for_status()
    return url


def clear(queue_url: str, sas: str) -> None:
    httpx.delete(f"{queue_url}/messages?{sas}", headers=VERSION, timeout=300).raise_for_status()


# -- server capacity (h2load) -----------------------------------------------------------------


@dataclass
class Capacity:
    puts_per_second: float
    put_mean_ms: float
    dequeue_per_second: dict[int, float] = field(default_factory=dict)
    """Depth → messages received per second (numofmessages=32, 16 connections)."""


def capacity(
    server: Server, sas: str, depths: list[int], *, put_seconds: int, budget: float, log: TextIO
) -> Capacity:
    queue = fresh_queue(server, sas, "capacity")
    puts = load.put_for(queue, sas, put_seconds)
    result = Capacity(puts.per_second, puts.mean_ms)
    expected: float | None = None
    for depth in depths:
        expected = dequeue_at_depth(server, sas, depth, budget, log, expected)
        result.dequeue_per_second[depth] = expected
    # Leave nothing behind: Azurite's dequeues slow down with every message it holds, in any
    # queue, and the SDK figures that follow should not inherit this phase's backlog.
    for name in ["capacity", *(f"depth{depth}" for depth in depths)]:
        httpx.delete(f"{server.url}/{name}?{sas}", headers=VERSION, timeout=600)
    return result


WORKING_SET = 3200
"""Messages received per round: 100 requests of 32 (fewer for a server too slow for that)."""


def dequeue_at_depth(
    server: Server, sas: str, depth: int, budget: float, log: TextIO, expected: float | None
) -> float:
    """Messages received per second from the front of a queue with `depth` messages behind
    the ones being received.

    The queue is filled with a working set of 3,200 messages plus `depth` more (all visible),
    and each round receives the working set from the front (100 requests of 32, hidden for an
    hour, so the queue keeps every message). When `expected` (the rate measured at the previous
    depth) says a round would outlast the budget, the working set shrinks to what fits in
    it, but never below 10 requests. Later rounds take their working set from the
    messages behind; when fewer than a working set (+32) are still visible, the queue is
    cleared and filled again. Rounds go on until `budget` seconds of receiving have been
    measured (at least one round, at most 20)."""
    queue = fresh_queue(server, sas, f"depth{depth}")
    per_get = load.MESSAGES_PER_GET
    working = WORKING_SET
    if expected:
        working = max(10 * per_get, min(WORKING_SET, int(expected * budget) // per_get * per_get))
    visible = 0
    received = 0
    seconds = 0.0
    rounds = 0
    while rounds == 0 or (seconds < budget and rounds < 20):
        if visible < working + per_get:
            clear(queue, sas)
            started = time.monotonic()
            load.put_count(queue, sas, working + depth)
            took = time.monotonic() - started
            print(f"    filled {working + depth:,} in {took:.1f} s", file=log)
            visible = working + depth
        result = load.receive(queue, sas, working // per_get)
        visible -= working
        received += working
        seconds += result.seconds
        rounds += 1
    rate = received / seconds
    print(
        f"    depth {depth:,}: {received:,} messages in {seconds:.2f} s over {rounds} rounds "
        f"= {rate:,.0f}/s",
        file=log,
    )
    return rate


# -- what a user feels through the SDK --------------------------------------------------------


@dataclass
class Felt:
    send_1_thread: float
    send_16_threads: float
    receive_delete: float
    latency_p50_ms: float
    latency_p99_ms: float


def _client(server: Server, queue: str) -> QueueClient:
    from ferry.queues.auth import DEV_ACCOUNT, DEV_KEY

    conn = (
        f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};"
        f"QueueEndpoint={server.url};"
    )
    return QueueClient.from_connection_string(conn, queue)


def felt(server: Server, sas: str, *, budget: float, latency_samples: int) -> Felt:
    """Each throughput runs until `budget` seconds have passed (or its work is done)."""
    fresh_queue(server, sas, "felt")
    client = _client(server, "felt")

    started = time.perf_counter()
    sent = 0
    while time.perf_counter() - started < budget:
        client.send_message(f"single {sent}")
        sent += 1
    send_1 = sent / (time.perf_counter() - started)

    counts = [0] * 16
    deadline = time.perf_counter() + budget

    def sender(index: int) -> None:
        own = _client(server, "felt")
        while time.perf_counter() < deadline:
            own.send_message(f"many {index} {counts[index]}")
            counts[index] += 1

    threads = [threading.Thread(target=sender, args=(i,)) for i in range(16)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    send_16 = sum(counts) / (time.perf_counter() - started)

    clear(f"{server.url}/felt", sas)
    load.put_count(f"{server.url}/felt", sas, 3200)
    started = time.perf_counter()
    done = 0
    pages = client.receive_messages(messages_per_page=32, visibility_timeout=300).by_page()
    for page in pages:
        for message in page:
            client.delete_message(message)
            done += 1
        if time.perf_counter() - started > budget:
            break
    receive_delete = done / (time.perf_counter() - started)

    clear(f"{server.url}/felt", sas)
    samples = []
    for i in range(latency_samples):
        started = time.perf_counter()
        client.send_message(f"latency {i}")
        while not (got := list(client.receive_messages(max_messages=1, visibility_timeout=60))):
            pass
        samples.append((time.perf_counter() - started) * 1000)
        client.delete_message(got[0])
    cuts = statistics.quantiles(samples, n=100)
    return Felt(send_1, send_16, receive_delete, cuts[49], cuts[98])


# -- durability -------------------------------------------------------------------------------


@dataclass
class Durability:
    acknowledged: int
    kept: int


def durability(server: Server, sas: str, *, messages: int) -> tuple[Durability, Server]:
    """Put from 16 threads until `messages` are acknowledged, `kill -9` the server, start it
    again on the same data and count how many acknowledged messages it still has."""
    fresh_queue(server, sas, "durable")
    acknowledged: list[str] = []
    lock = threading.Lock()

    def sender(worker: int) -> None:
        own = _client(server, "durable")
        sequence = 0
        while True:
            with lock:
                if len(acknowledged) >= messages:
                    return
            text = f"w{worker}-{sequence}"
            sequence += 1
            own.send_message(text)
            with lock:
                acknowledged.append(text)

    threads = [threading.Thread(target=sender, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    server.kill()
    revived = restart(server)
    client = _client(revived, "durable")
    found: set[str] = set()
    try:
        while batch := list(
            client.receive_messages(messages_per_page=32, max_messages=32, visibility_timeout=3600)
        ):
            found.update(m.content for m in batch)
    except Exception:  # a server that lost the queue itself kept nothing
        pass
    return Durability(len(acknowledged), len(found & set(acknowledged))), revived
