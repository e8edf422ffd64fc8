"""The functions host benchmark: put → trigger-start latency and messages/s through a trivial
queue function, with Ferry's instant wake-up (`ferry start`: queues and host in one process)
against the same app polling (`ferry functions` against a separate `ferry serve queues`, with
host.json `maxPollingInterval` 2 s, as the seed's sample sets it).

    python -m bench.functions [--samples N] [--messages N]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from azure.storage.queue import QueueClient
from rich.table import Table

from bench import load
from bench.__main__ import account_sas
from ferry.cli.output import make_console
from ferry.queues.auth import DEV_ACCOUNT, DEV_KEY
from ferry.spawn import Child, spawn

APP = Path(__file__).parent / "apps" / "relay"
console = make_console()


def _connection(queues: str) -> str:
    return (
        f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};"
        f"QueueEndpoint={queues}"
    )


def _outputs(out: QueueClient, count: int, timeout: float) -> list[str]:
    found: list[str] = []
    deadline = time.monotonic() + timeout
    while len(found) < count and time.monotonic() < deadline:
        for message in out.receive_messages(messages_per_page=32, max_messages=32):
            found.append(message.content)
            out.delete_message(message)
    return found


def measure(queues: str, *, samples: int, messages: int, gap: float) -> dict[str, float]:
    """Latency: one message at a time after `gap` s idle; throughput: `messages` put with
    h2load as fast as it can, timed by the function's own stamps."""
    source = QueueClient.from_connection_string(_connection(queues), "relay-in")
    out = QueueClient.from_connection_string(_connection(queues), "relay-out")
    for client in (source, out):
        try:
            client.create_queue()
        except Exception:
            client.clear_messages()
    latencies = []
    for i in range(samples):
        time.sleep(gap)
        sent = time.time()
        source.send_message(f"lat{i}")
        [stamped] = _outputs(out, 1, 30)
        latencies.append((float(stamped.split("|")[1]) - sent) * 1000)
    cuts = statistics.quantiles(latencies, n=100)
    load.put_count(f"{queues}/relay-in", account_sas(), messages)
    stamps = sorted(float(m.split("|")[1]) for m in _outputs(out, messages, 300))
    rate = (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 else 0.0
    return {"p50": cuts[49], "p99": cuts[98], "rate": rate, "done": len(stamps)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--messages", type=int, default=5000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ferry-fbench-"))
    app = work / "relay"
    shutil.copytree(APP, app)
    children: list[Child] = []
    try:
        console.rule("instant wake-up: ferry start")
        started = spawn(
            ["start", "--app", str(app), "--queue-port", "0", "--http-port", "0"]
            + ["--agents-port", "0", "--queue-tls-port", "0", "--identity-port", "0"],
            work / "instant",
            env={
                "AzureWebJobsStorage": "UseDevelopmentStorage=true",
                "FERRY_FALLBACK_MODEL": "scripted",
            },
        )
        children.append(started)
        instant = measure(
            started.url("queues"), samples=args.samples, messages=args.messages, gap=0.3
        )
        started.stop()
        console.print(instant)
        console.rule("polling: ferry functions + ferry serve queues")
        queues = spawn(["serve", "queues", "--port", "0"], work / "queues")
        children.append(queues)
        host = spawn(
            ["functions", "--app", str(app), "--http-port", "0"],
            work / "polling",
            env={"AzureWebJobsStorage": _connection(queues.url("queues"))},
        )
        children.append(host)
        polling = measure(
            queues.url("queues"),
            samples=max(10, args.samples // 5),
            messages=args.messages,
            gap=3.0,
        )
        console.print(polling)
    finally:
        for child in children:
            child.kill()
    table = Table(title="Functions host: a trivial queue function (input → output binding)")
    table.add_column("measure")
    table.add_column("instant wake-up", justify="right")
    table.add_column("polling (2 s max)", justify="right")
    table.add_column("×", justify="right")
    rows = [
        ("put → trigger start p50, ms", "p50", True),
        ("put → trigger start p99, ms", "p99", True),
        ("messages/s through the host", "rate", False),
    ]
    lines = ["| measure | instant wake-up | polling (2 s max) | × |", "|---|---|---|---|"]
    for label, key, lower in rows:
        a, b = instant[key], polling[key]
        ratio = (b / a if lower else a / b) if a and b else 0
        table.add_row(label, f"{a:,.1f}", f"{b:,.1f}", f"{ratio:,.1f}×")
        lines.append(f"| {label} | {a:,.1f} | {b:,.1f} | {ratio:,.1f}× |")
    console.print(table)
    out = Path(".bench")
    out.mkdir(exist_ok=True)
    (out / "functions.md").write_text("\n".join(lines) + "\n")
    (out / "functions.json").write_text(json.dumps({"instant": instant, "polling": polling}))


if __name__ == "__main__":
    main()
