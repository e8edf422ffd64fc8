"""The agent service benchmark: many concurrent runs through one `ferry start`, each calling
one `azure_function` tool whose function sleeps (1 s by default), on the scripted model, for
each API generation: classic runs and v2 responses, each on a `ferry start` of its own.

A classic run is a create-thread-and-run with `"stream": true`; a v2 response is a
`POST /openai/v1/responses` naming an agent version, with `"stream": true` (so its stream's
news are logged in the store, as every streamed response's are); either way the client sees
the moment it completes without polling. Per run: total time (request sent → the stream's
completed event), and the overhead, total minus the function's sleep (the scripted model
answers in microseconds, so what is left is Ferry: HTTP, the store, the queues, the
functions host, the run engine).
Memory: the server's resident set when idle after start, and its peak (VmHWM) after the load.

There is no offline alternative to compare with (the cloud service is not reachable from
here), so the figures are set against the targets of the issue instead.

Scaling out: with `--processes 1,2,4` each measure is taken with `ferry start` alone, then
with 1 and 3 `ferry worker` processes working runs beside it (`ferry start --workers N`),
sharing its store, on each `--store` (the SQLite file of the data folder, or a fresh
PostgreSQL database on 127.0.0.1), and runs/s are printed per process count.

    python -m bench.agents [--runs N] [--sleep S] [--api classic|v2|both]
                           [--processes 1,2,4] [--store sqlite,postgres] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import shutil
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
from rich.table import Table

from bench.servers import drop_postgres_database, fresh_postgres_database
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
    api: str
    store: str
    processes: int
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
    server_cpu_ms_per_run: float
    client_cpu_ms_per_run: float
    machine: str


def _memory(pid: int, field: str) -> float:
    """VmRSS / VmHWM of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def _cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and the live processes below it (the
    `ferry worker`s of `ferry start --workers`), in seconds."""
    total = 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return total
    return total + sum(_cpu_seconds(int(child)) for child in children)


def _client_cpu_seconds() -> float:
    used = resource.getrusage(resource.RUSAGE_SELF)
    return used.ru_utime + used.ru_stime


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


async def _one_response(client: httpx.AsyncClient, agent: str, index: int) -> Outcome:
    body = {
        "agent_reference": {"type": "agent_reference", "name": agent},
        "input": f"weather in City{index}",
        "stream": True,
    }
    started = time.perf_counter()
    status, pieces = "no end", []
    async with client.stream("POST", "/openai/v1/responses", json=body) as response:
        if response.status_code != 200:
            await response.aread()
            return Outcome(f"http {response.status_code}", 0.0, response.text[:200])
        async for line in response.aiter_lines():
            if not line.startswith("data: "):
                continue
            event = json.loads(line[6:])
            if event["type"] == "response.output_text.delta":
                pieces.append(event["delta"])
            elif event["type"] in ("response.completed", "response.failed"):
                status = event["response"]["status"]
                break
    return Outcome(status, (time.perf_counter() - started) * 1000, "".join(pieces))


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


async def _agent(client: httpx.AsyncClient, api: str, queues_url: str) -> str:
    """The agent of the runs: an assistant (classic) or an agent's first version (v2)."""
    if api == "classic":
        made = await client.post(
            "/assistants", json={"model": "bench", "tools": [_tool(queues_url)]}
        )
        made.raise_for_status()
        return str(made.json()["id"])
    definition = {"kind": "prompt", "model": "bench", "tools": [_tool(queues_url)]}
    made = await client.post("/agents/bench/versions", json={"definition": definition})
    made.raise_for_status()
    return str(made.json()["name"])


async def _measure(
    base: str, ca: Path, token: str, queues_url: str, runs: int, api: str
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
        agent = await _agent(client, api, queues_url)
        one = _one_run if api == "classic" else _one_response
        # Warm up: queues created, consumers started, connections open.
        await asyncio.gather(*(one(client, agent, -i) for i in range(1, 11)))
        started = time.perf_counter()
        outcomes = await asyncio.gather(*(one(client, agent, i) for i in range(runs)))
        return list(outcomes), time.perf_counter() - started


def run(
    runs: int, sleep: float, api: str = "classic", processes: int = 1, store: str = "sqlite"
) -> Report:
    work = Path(tempfile.mkdtemp(prefix="ferry-abench-"))
    app = work / "sleeper"
    shutil.copytree(APP, app)
    child: Child | None = None
    database_url = fresh_postgres_database() if store == "postgres" else None
    env = {
        "AzureWebJobsStorage": "UseDevelopmentStorage=true",
        "BENCH_SLEEP": str(sleep),
        # Ferry's own overhead is measured, so the model must cost nothing.
        "FERRY_FALLBACK_MODEL": "scripted",
    }
    try:
        child = spawn(
            ["start", "--app", str(app), "--queue-port", "0", "--http-port", "0"]
            + ["--agents-port", "0", "--queue-tls-port", "0", "--identity-port", "0"]
            + (["--database-url", database_url] if database_url else [])
            + (["--workers", str(processes - 1)] if processes > 1 else []),
            work / "data",
            env=env,
        )

        pid = child.process.pid
        time.sleep(2.0)
        idle = _memory(pid, "VmRSS")
        base = f"{child.url('agents')}/api/projects/bench"
        token = TokenIssuer(work / "data").issue("https://ai.azure.com").value
        server_before, client_before = _cpu_seconds(pid), _client_cpu_seconds()
        outcomes, wall = asyncio.run(
            _measure(base, work / "data" / "tls" / "ca.pem", token, child.url("queues"), runs, api)
        )
        server_cpu = _cpu_seconds(pid) - server_before
        client_cpu = _client_cpu_seconds() - client_before
        peak = _memory(pid, "VmHWM")
    finally:
        if child is not None:
            child.stop()  # SIGTERM: it stops its workers too
        if database_url:
            drop_postgres_database(database_url)
        shutil.rmtree(work, ignore_errors=True)
    done = [o for o in outcomes if o.status == "completed"]
    wrong = [o for i, o in enumerate(outcomes) if f"City{i}." not in o.answer]
    totals = sorted(o.total_ms for o in done) or [0.0]
    overheads = [t - sleep * 1000 for t in totals]
    cuts = statistics.quantiles(totals, n=100) if len(totals) > 1 else totals * 99
    over = statistics.quantiles(overheads, n=100) if len(overheads) > 1 else overheads * 99
    return Report(
        api=api,
        store=store,
        processes=processes,
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
        # The warm-up's 10 runs are counted too: they are in the same window.
        server_cpu_ms_per_run=server_cpu * 1000 / (runs + 10),
        client_cpu_ms_per_run=client_cpu * 1000 / (runs + 10),
        machine=f"{platform.machine()}, {_cores()} cores, Python {platform.python_version()}",
    )


def _cores() -> int:

    return len(os.sched_getaffinity(0))


def show_scaling(reports: list[Report]) -> None:
    """Runs/s (and wall time) per store and process count, each API a column."""
    apis = list(dict.fromkeys(r.api for r in reports))
    table = Table(title=f"{reports[0].runs:,} concurrent runs by processes sharing the store")
    table.add_column("store")
    table.add_column("processes", justify="right")
    for api in apis:
        name = "classic" if api == "classic" else "v2"
        table.add_column(f"{name}: runs/s", justify="right")
        table.add_column(f"{name}: wall s", justify="right")
    table.add_column("vs 1 process", justify="right")
    table.add_column("Ferry CPU ms/run", justify="right")
    rows = sorted({(r.store, r.processes) for r in reports})
    for store, processes in rows:
        cells = []
        for api in apis:
            found = next(
                (r for r in reports if (r.store, r.processes, r.api) == (store, processes, api)),
                None,
            )
            cells += [f"{found.runs_per_s:,.0f}", f"{found.wall_s:,.1f}"] if found else ["", ""]
        one = [r for r in reports if (r.store, r.processes, r.api) == (store, 1, apis[0])]
        this = [r for r in reports if (r.store, r.processes, r.api) == (store, processes, apis[0])]
        ratio = (
            f"{this[0].runs_per_s / one[0].runs_per_s:.2f}×"
            if one and this and one[0].runs_per_s
            else ""
        )
        cpu = f"{this[0].server_cpu_ms_per_run:,.1f}" if this else ""
        table.add_row(store, str(processes), *cells, ratio, cpu)
    console.print(table)


def show(reports: list[Report]) -> None:
    first = reports[0]
    table = Table(title=f"{first.runs:,} concurrent runs, one azure_function call each")
    table.add_column("measure")
    for report in reports:
        table.add_column(
            "classic runs" if report.api == "classic" else "v2 responses", justify="right"
        )
    table.add_column("target", justify="right")

    def met(value: float, limit: float) -> str:
        return (
            f"[green]{value:,.{1 if value < 100 else 0}f}[/green]"
            if value < limit
            else (f"[red]{value:,.{1 if value < 100 else 0}f}[/red]")
        )

    rows: list[tuple[str, list[str], str]] = [
        ("runs completed", [f"{r.completed:,} / {r.runs:,}" for r in reports], "all"),
        ("answers wrong", [f"{r.wrong_answers:,}" for r in reports], "0"),
        ("wall time, s", [met(r.wall_s, TARGETS["wall_s"]) for r in reports], "< 5"),
        ("runs/s", [f"{r.runs_per_s:,.0f}" for r in reports], ""),
        ("run total p50, ms", [f"{r.total_p50_ms:,.0f}" for r in reports], ""),
        ("run total p99, ms", [f"{r.total_p99_ms:,.0f}" for r in reports], ""),
        (
            "overhead p50, ms",
            [met(r.overhead_p50_ms, TARGETS["overhead_p50_ms"]) for r in reports],
            "< 20",
        ),
        ("overhead p99, ms", [f"{r.overhead_p99_ms:,.1f}" for r in reports], ""),
        ("idle RSS, MB", [met(r.idle_rss_mb, TARGETS["idle_rss_mb"]) for r in reports], "< 150"),
        ("peak RSS under load, MB", [f"{r.peak_rss_mb:,.0f}" for r in reports], ""),
        ("Ferry CPU per run, ms", [f"{r.server_cpu_ms_per_run:,.1f}" for r in reports], ""),
        ("client CPU per run, ms", [f"{r.client_cpu_ms_per_run:,.1f}" for r in reports], ""),
    ]
    for label, values, target in rows:
        table.add_row(label, *values, target)
    console.print(table)
    if len(reports) == 2:
        classic, v2 = reports
        if classic.wall_s and v2.wall_s:
            console.print(
                f"v2 responses / classic runs, wall time: {v2.wall_s / classic.wall_s:.2f}×"
            )
    console.print(f"[dim]{first.machine}; function sleep {first.sleep_s} s[/dim]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--sleep", type=float, default=1.0)
    parser.add_argument("--api", choices=["classic", "v2", "both"], default="both")
    parser.add_argument(
        "--processes",
        default="1",
        help="comma-separated process counts: ferry start with --workers N-1 (e.g. 1,2,4)",
    )
    parser.add_argument(
        "--store", default="sqlite", help="comma-separated stores: sqlite, postgres"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args()
    apis = ["classic", "v2"] if args.api == "both" else [args.api]
    counts = [int(n) for n in args.processes.split(",")]
    stores = [name.strip() for name in args.store.split(",")]
    reports = [
        run(args.runs, args.sleep, api, processes, store)
        for store in stores
        for processes in counts
        for api in apis
    ]
    RESULTS.mkdir(exist_ok=True)
    found = [asdict(report) for report in reports]
    (RESULTS / "agents.json").write_text(json.dumps(found, indent=2))
    if args.json:
        print(json.dumps(found, indent=2))
        return
    show([r for r in reports if (r.store, r.processes) == (stores[0], counts[0])])
    if len(counts) > 1 or len(stores) > 1:
        show_scaling(reports)


if __name__ == "__main__":
    main()
