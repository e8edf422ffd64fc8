"""The agent service benchmark: many concurrent runs through one `ferry start`, each calling
one `azure_function` tool whose function sleeps (1 s by default), on the scripted model.

Each run is a create-thread-and-run with `"stream": true`, so the client sees the moment it
completes without polling. Per run: total time (request sent → `thread.run.completed`), and
the overhead, total minus the function's sleep (the scripted model answers in microseconds,
so what is left is Ferry: HTTP, the store, the queues, the functions host, the run engine).
Memory: the server's resident set when idle after start, and its peak (VmHWM) after the load.

There is no offline alternative to compare with (the cloud service is not reachable from
here), so the figures are set against the targets of the issue instead.

    python -m bench.agents [--runs N] [--sleep S] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import shutil
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
from rich.table import Table

from ferry.cli.output import make_console
from ferry.identity.tokens import TokenIssuer
from ferry.spawn import Child, spawn

APP = Path(__file__).parent / "apps" / "sleeper"
RESULTS = Path(".bench")
console = make_console()

TARGETS = {"wall_s": 5.0, "overhead_p50_ms": 20.0, "idle_rss_mb": 150.0}


@dataclass
class Outcome:
    status: str
    total_ms: float
    answer: str


@dataclass
class Report:
    runs: int
    sleep_s: float
    completed: int
    wrong_answers: int
    wall_s: float
    runs_per_s: float
    total_p50_ms: float
    total_p99_ms: float
    overhead_p50_ms: float
    overhead_p99_ms: float
    idle_rss_mb: float
    peak_rss_mb: float
    machine: str


def _memory(pid: int, field: str) -> float:
    """VmRSS / VmHWM of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def _tool(queues_url: str) -> dict[str, Any]:
    def queue(name: str) -> dict[str, Any]:
        return {
            "type": "storage_queue",
            "storage_queue": {"queue_service_endpoint": queues_url, "queue_name": name},
        }

    return {
        "type": "azure_function",
        "azure_function": {
            "function": {
                "name": "GetWeather",
                "description": "The weather in a place.",
                "parameters": {
                    "type": "object",
                    "properties": {"location": {"type": "string"}},
                    "required": ["location"],
                },
            },
            "input_binding": queue("bench-in"),
            "output_binding": queue("bench-out"),
        },
    }


async def _one_run(client: httpx.AsyncClient, agent: str, index: int) -> Outcome:
    body = {
        "assistant_id": agent,
        "stream": True,
        "thread": {"messages": [{"role": "user", "content": f"weather in City{index}"}]},
    }
    started = time.perf_counter()
    status, name, pieces = "no end", "", []
    async with client.stream("POST", "/threads/runs", json=body) as response:
        if response.status_code != 200:
            await response.aread()
            return Outcome(f"http {response.status_code}", 0.0, response.text[:200])
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: ") and name == "thread.message.delta":
                for part in json.loads(line[6:])["delta"]["content"]:
                    pieces.append(part["text"]["value"])
            elif line.startswith("data: ") and name.startswith("thread.run."):
                status = name.removeprefix("thread.run.")
            elif name == "done":
                break
    return Outcome(status, (time.perf_counter() - started) * 1000, "".join(pieces))


async def _measure(
    base: str, ca: Path, token: str, queues_url: str, runs: int
) -> tuple[list[Outcome], float]:
    import ssl

    limits = httpx.Limits(max_connections=runs + 8, max_keepalive_connections=runs + 8)
    async with httpx.AsyncClient(
        base_url=base,
        verify=ssl.create_default_context(cafile=str(ca)),
        headers={"Authorization": f"Bearer {token}"},
        timeout=httpx.Timeout(120.0),
        limits=limits,
    ) as client:
        created = await client.post(
            "/assistants", json={"model": "bench", "tools": [_tool(queues_url)]}
        )
        created.raise_for_status()
        agent = created.json()["id"]
        # Warm up: queues created, consumers started, connections open.
        await asyncio.gather(*(_one_run(client, agent, -i) for i in range(1, 11)))
        started = time.perf_counter()
        outcomes = await asyncio.gather(*(_one_run(client, agent, i) for i in range(runs)))
        return list(outcomes), time.perf_counter() - started


def run(runs: int, sleep: float) -> Report:
    work = Path(tempfile.mkdtemp(prefix="ferry-abench-"))
    app = work / "sleeper"
    shutil.copytree(APP, app)
    child: Child | None = None
    try:
        child = spawn(
            ["start", "--app", str(app), "--queue-port", "0", "--http-port", "0"]
            + ["--agents-port", "0", "--queue-tls-port", "0", "--identity-port", "0"],
            work / "data",
            env={
                "AzureWebJobsStorage": "UseDevelopmentStorage=true",
                "BENCH_SLEEP": str(sleep),
                # Ferry's own overhead is measured, so the model must cost nothing.
                "FERRY_FALLBACK_MODEL": "scripted",
            },
        )
        pid = child.process.pid
        time.sleep(2.0)
        idle = _memory(pid, "VmRSS")
        base = f"{child.url('agents')}/api/projects/bench"
        token = TokenIssuer(work / "data").issue("https://ai.azure.com").value
        outcomes, wall = asyncio.run(
            _measure(base, work / "data" / "tls" / "ca.pem", token, child.url("queues"), runs)
        )
        peak = _memory(pid, "VmHWM")
    finally:
        if child is not None:
            child.kill()
        shutil.rmtree(work, ignore_errors=True)
    done = [o for o in outcomes if o.status == "completed"]
    wrong = [o for i, o in enumerate(outcomes) if f"City{i}." not in o.answer]
    totals = sorted(o.total_ms for o in done) or [0.0]
    overheads = [t - sleep * 1000 for t in totals]
    cuts = statistics.quantiles(totals, n=100) if len(totals) > 1 else totals * 99
    over = statistics.quantiles(overheads, n=100) if len(overheads) > 1 else overheads * 99
    return Report(
        runs=runs,
        sleep_s=sleep,
        completed=len(done),
        wrong_answers=len(wrong),
        wall_s=wall,
        runs_per_s=len(done) / wall if wall else 0.0,
        total_p50_ms=cuts[49],
        total_p99_ms=cuts[98],
        overhead_p50_ms=over[49],
        overhead_p99_ms=over[98],
        idle_rss_mb=idle,
        peak_rss_mb=peak,
        machine=f"{platform.machine()}, {_cores()} cores, Python {platform.python_version()}",
    )


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0))


def show(report: Report) -> None:
    table = Table(title=f"{report.runs:,} concurrent runs, one azure_function call each")
    table.add_column("measure")
    table.add_column("Ferry", justify="right")
    table.add_column("target", justify="right")
    table.add_column("met", justify="center")
    rows = [
        ("runs completed", f"{report.completed:,} / {report.runs:,}", "all", None),
        ("answers wrong", f"{report.wrong_answers:,}", "0", None),
        ("wall time, s", f"{report.wall_s:.2f}", "< 5", report.wall_s < TARGETS["wall_s"]),
        ("runs/s", f"{report.runs_per_s:,.0f}", "", None),
        ("run total p50, ms", f"{report.total_p50_ms:,.0f}", "", None),
        ("run total p99, ms", f"{report.total_p99_ms:,.0f}", "", None),
        (
            "overhead p50, ms",
            f"{report.overhead_p50_ms:,.1f}",
            "< 20",
            report.overhead_p50_ms < TARGETS["overhead_p50_ms"],
        ),
        ("overhead p99, ms", f"{report.overhead_p99_ms:,.1f}", "", None),
        (
            "idle RSS, MB",
            f"{report.idle_rss_mb:,.0f}",
            "< 150",
            report.idle_rss_mb < TARGETS["idle_rss_mb"],
        ),
        ("peak RSS under load, MB", f"{report.peak_rss_mb:,.0f}", "", None),
    ]
    for label, value, target, met in rows:
        mark = "" if met is None else ("[green]yes[/green]" if met else "[red]no[/red]")
        table.add_row(label, value, target, mark)
    console.print(table)
    console.print(f"[dim]{report.machine}; function sleep {report.sleep_s} s[/dim]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--sleep", type=float, default=1.0)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args()
    report = run(args.runs, args.sleep)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "agents.json").write_text(json.dumps(asdict(report), indent=2))
    if args.json:
        print(json.dumps(asdict(report), indent=2))
    else:
        show(report)


if __name__ == "__main__":
    main()
