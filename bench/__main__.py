"""`make bench`: Ferry's queue service against Azurite, side by side, in one run.

Each server runs alone on a fresh data folder (so they never compete for the CPU), and every
figure is printed for each server with Ferry's ratio to Azurite. Results also go to
.bench/results.json and .bench/results.md (the table in docs/benchmarks.md comes from there).

    python -m bench                 # the full run (several minutes: Azurite is slow to fill)
    python -m bench --quick         # depths 1k and 10k only, shorter runs
    python -m bench --no-postgres   # skip Ferry on PostgreSQL
"""

from __future__ import annotations

import argparse
import json
import platform
import sqlite3
import subprocess
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from azure.storage.queue import AccountSasPermissions, ResourceTypes, generate_account_sas
from rich.table import Table

from bench import measure
from bench.servers import (
    WORK,
    Server,
    azurite_version,
    drop_postgres_database,
    fresh_folder,
    fresh_postgres_database,
    start_azurite,
    start_ferry,
)
from ferry.cli.output import make_console
from ferry.queues.auth import DEV_ACCOUNT, DEV_KEY

console = make_console()


def account_sas() -> str:
    return generate_account_sas(
        DEV_ACCOUNT,
        DEV_KEY,
        ResourceTypes(service=True, container=True, object=True),
        AccountSasPermissions(
            read=True,
            write=True,
            delete=True,
            list=True,
            add=True,
            create=True,
            update=True,
            process=True,
        ),
        expiry=datetime.now(UTC) + timedelta(hours=6),
    )


def machine() -> dict[str, str]:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import os

    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "node": node,
        "azurite": azurite_version(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
    }


def run_one(start: Any, name: str, args: argparse.Namespace, sas: str) -> dict[str, Any]:
    console.rule(f"[bold]{name}")
    server: Server = start()
    try:
        console.print(f"  capacity (h2load, {measure.load.CONNECTIONS} connections) …")
        capacity = measure.capacity(
            server,
            sas,
            args.depths,
            put_seconds=args.put_seconds,
            budget=args.budget,
            log=sys.stdout,
        )
        console.print(f"    puts: {capacity.puts_per_second:,.0f}/s")
        console.print("  through the SDK …")
        felt = measure.felt(server, sas, budget=args.budget, latency_samples=args.samples)
        console.print(f"    {felt}")
        console.print("  durability (kill -9) …")
        durability, server = measure.durability(server, sas, messages=args.durable)
        console.print(f"    kept {durability.kept} of {durability.acknowledged}")
    finally:
        server.stop()
    return {
        "label": server.label,
        "capacity": asdict(capacity),
        "felt": asdict(felt),
        "durability": asdict(durability),
    }


def rows(depths: list[int]) -> list[tuple[str, str, bool]]:
    """(label, path into a result, whether higher is better)."""
    table = [
        ("puts/s (h2load, 16 connections)", "capacity.puts_per_second", True),
        ("put time under that load, mean ms", "capacity.put_mean_ms", False),
    ]
    table += [
        (
            f"dequeued msgs/s at depth {d:,} (32 per request)",
            f"capacity.dequeue_per_second.{d}",
            True,
        )
        for d in depths
    ]
    table += [
        ("SDK send, 1 thread, msgs/s", "felt.send_1_thread", True),
        ("SDK send, 16 threads, msgs/s", "felt.send_16_threads", True),
        ("SDK receive+delete (batches of 32), msgs/s", "felt.receive_delete", True),
        ("SDK put→receive latency p50, ms", "felt.latency_p50_ms", False),
        ("SDK put→receive latency p99, ms", "felt.latency_p99_ms", False),
        ("acknowledged puts kept after kill -9", "durability", True),
    ]
    return table


def value(result: dict[str, Any], path: str) -> Any:
    if path == "durability":
        return result["durability"]
    node: Any = result
    for part in path.split("."):
        node = node[part] if part in node else node[int(part)] if part.isdigit() else None
        if node is None:
            return None
    return node


def shown(found: Any, path: str) -> str:
    if found is None:
        return "—"
    if path == "durability":
        return f"{found['kept']:,} / {found['acknowledged']:,}"
    return f"{found:,.1f}" if found < 100 else f"{found:,.0f}"


def ratio(base: Any, other: Any, higher_better: bool, path: str) -> str:
    if base is None or other is None:
        return "—"
    if path == "durability":
        base, other = base["kept"] / base["acknowledged"], other["kept"] / other["acknowledged"]
    if not base or not other:
        return "—"
    return f"{(other / base) if higher_better else (base / other):.1f}×"


def report(results: list[dict[str, Any]], depths: list[int], info: dict[str, str]) -> str:
    base = results[0]
    table = Table(title="Ferry vs Azurite (× = how many times better Ferry is)")
    table.add_column("measure")
    for result in results:
        table.add_column(result["label"], justify="right")
        if result is not base:
            table.add_column("×", justify="right")
    markdown = [
        "| measure | "
        + " | ".join(r["label"] + ("" if r is base else " | ×") for r in results)
        + " |"
    ]
    markdown.append("|---" * (1 + 2 * len(results) - 1) + "|")
    for label, path, higher in rows(depths):
        cells = [shown(value(base, path), path)]
        for other in results[1:]:
            cells += [
                shown(value(other, path), path),
                ratio(value(base, path), value(other, path), higher, path),
            ]
        table.add_row(label, *cells)
        markdown.append(f"| {label} | " + " | ".join(cells) + " |")
    for other in results[1:]:
        rates = other["capacity"]["dequeue_per_second"]
        if len(depths) > 1:
            first, last = rates[depths[0]], rates[depths[-1]]
            line = (
                f"{other['label']}: dequeue rate at depth {depths[-1]:,} is "
                f"{last / first:.0%} of the rate at {depths[0]:,}"
            )
            console.print(line)
            markdown.append(f"\n{line}.")
    base_rates = base["capacity"]["dequeue_per_second"]
    if len(depths) > 1:
        line = (
            f"{base['label']}: dequeue rate at depth {depths[-1]:,} is "
            f"{base_rates[depths[-1]] / base_rates[depths[0]]:.0%} of the rate at {depths[0]:,}"
        )
        console.print(line)
        markdown.append(f"\n{line}.")
    console.print(table)
    about = ", ".join(f"{k} {v}" for k, v in info.items())
    console.print(f"[dim]{about}[/dim]")
    markdown.append(f"\nMachine: {about}.")
    return "\n".join(markdown) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="depths 1k and 10k, short runs")
    parser.add_argument("--no-postgres", action="store_true", help="skip Ferry on PostgreSQL")
    args = parser.parse_args()
    args.depths = [1_000, 10_000] if args.quick else [1_000, 10_000, 100_000]
    args.put_seconds = 5 if args.quick else 10
    args.budget = 3.0 if args.quick else 10.0
    args.samples = 100 if args.quick else 300
    args.durable = 2_000

    sas = account_sas()
    info = machine()
    started = time.monotonic()
    results = [
        run_one(lambda: start_azurite(fresh_folder("azurite")), "Azurite", args, sas),
        run_one(lambda: start_ferry(fresh_folder("ferry-sqlite")), "Ferry on SQLite", args, sas),
    ]
    if not args.no_postgres:
        database = fresh_postgres_database()
        try:
            results.append(
                run_one(
                    lambda: start_ferry(fresh_folder("ferry-postgres"), database),
                    "Ferry on PostgreSQL",
                    args,
                    sas,
                )
            )
        finally:
            drop_postgres_database(database)
    markdown = report(results, args.depths, info)
    WORK.mkdir(exist_ok=True)
    (WORK / "results.json").write_text(json.dumps({"machine": info, "results": results}, indent=2))
    (WORK / "results.md").write_text(markdown)
    console.print(f"[dim]{time.monotonic() - started:.0f} s; results in {WORK}/results.md[/dim]")


if __name__ == "__main__":
    main()
