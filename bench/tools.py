"""The tool runtime's own costs, each beside what a user would do without Ferry.

- code_interpreter: a cold call (a new session: the sandbox, the kernel, `1+1`) and a warm
  call (`1+1` in a running session), in Ferry's bubblewrap sandbox and in a plain Jupyter
  kernel started with jupyter-client on the same machine (no sandbox, no limits): the ratio
  is what the isolation costs.
- MCP: one `tools/call` of `add` through Ferry's client (a connection per call, as a run
  makes them) and through a session of the official SDK held open, against the same server
  (written with the SDK) on loopback.

    python -m bench.tools [--calls N] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import platform
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import uvicorn
from jupyter_client.manager import AsyncKernelManager
from mcp import Client
from mcp.server.mcpserver import MCPServer
from rich.table import Table

from ferry.cli.output import make_console
from ferry.tools.code.sandbox import SandboxMode, probe
from ferry.tools.code.sessions import CodeSessions
from ferry.tools.mcp.client import McpClient


def _ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 1)


async def _ferry_code(calls: int) -> dict[str, float]:
    sandbox = probe(SandboxMode.BWRAP)
    if sandbox.effective is None:
        raise SystemExit(f"bubblewrap does not run here: {sandbox.reason}")
    cold, warm = [], []
    with tempfile.TemporaryDirectory() as root:
        sessions = CodeSessions(Path(root), sandbox)
        try:
            for index in range(calls):
                started = time.perf_counter()
                await sessions.execute(f"cold-{index}", "1+1")
                cold.append(time.perf_counter() - started)
                await sessions.close(f"cold-{index}")
            for _ in range(calls * 10):
                started = time.perf_counter()
                await sessions.execute("warm", "1+1")
                warm.append(time.perf_counter() - started)
        finally:
            await sessions.aclose()
    return {"cold_ms": _ms(cold), "warm_ms": _ms(warm[1:])}


def _quiet(message: dict[str, Any]) -> None:
    """The plain kernel's output is not printed (what matters is the time to it)."""


async def _plain_kernel(calls: int) -> dict[str, float]:
    """What a user without Ferry would run: an ipykernel by jupyter-client, no sandbox."""

    async def one(manager: AsyncKernelManager) -> float:
        client = manager.client()
        client.start_channels()
        try:
            await client.wait_for_ready(timeout=60)
            started = time.perf_counter()
            await client.execute_interactive("1+1", timeout=60, output_hook=_quiet)
            return time.perf_counter() - started
        finally:
            client.stop_channels()

    cold, warm = [], []
    for _ in range(calls):
        started = time.perf_counter()
        manager = AsyncKernelManager(kernel_name="python3")
        await manager.start_kernel(stderr=subprocess.DEVNULL)
        await one(manager)
        cold.append(time.perf_counter() - started)
        await manager.shutdown_kernel(now=True)
    manager = AsyncKernelManager(kernel_name="python3")
    await manager.start_kernel(stderr=subprocess.DEVNULL)
    client = manager.client()
    client.start_channels()
    try:
        await client.wait_for_ready(timeout=60)
        for _ in range(calls * 10):
            started = time.perf_counter()
            await client.execute_interactive("1+1", timeout=60, output_hook=_quiet)
            warm.append(time.perf_counter() - started)
    finally:
        client.stop_channels()
        await manager.shutdown_kernel(now=True)
    return {"cold_ms": _ms(cold), "warm_ms": _ms(warm[1:])}


@contextlib.contextmanager
def _mcp_server() -> Iterator[str]:
    """An MCP server of the official SDK with one tool, `add`, on loopback: its URL."""
    server = MCPServer("bench", log_level="WARNING")

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(server.streamable_http_app(), log_level="warning", loop="auto")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not running.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/mcp"
    finally:
        running.should_exit = True
        thread.join(timeout=10)


async def _mcp(calls: int) -> dict[str, float]:
    with _mcp_server() as url:
        ferry = McpClient(url)
        through_ferry = []
        for _ in range(calls):
            started = time.perf_counter()
            await ferry.call_tool("add", {"a": 1, "b": 2})
            through_ferry.append(time.perf_counter() - started)
        direct = []
        async with Client(url) as session:
            for _ in range(calls):
                started = time.perf_counter()
                await session.call_tool("add", {"a": 1, "b": 2})
                direct.append(time.perf_counter() - started)
    return {"ferry_ms": _ms(through_ferry[1:]), "held_session_ms": _ms(direct[1:])}


async def measure(calls: int) -> dict[str, Any]:
    return {
        "machine": f"{platform.machine()}, {platform.python_version()}",
        "calls": calls,
        "code_ferry_bwrap": await _ferry_code(calls),
        "code_plain_kernel": await _plain_kernel(calls),
        "mcp": await _mcp(calls * 10),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=7, help="cold starts (warm calls: 10x)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    found = asyncio.run(measure(args.calls))
    if args.json:
        print(json.dumps(found, indent=2))
        return
    ferry, plain, mcp = found["code_ferry_bwrap"], found["code_plain_kernel"], found["mcp"]
    table = Table(title=f"Tool runtime (medians, {found['machine']})")
    for column in ("", "Ferry", "without Ferry", "ratio"):
        table.add_column(column, justify="right" if column else "left")
    rows = [
        ("code: cold call (new session)", ferry["cold_ms"], plain["cold_ms"]),
        ("code: warm call", ferry["warm_ms"], plain["warm_ms"]),
        ("MCP: one tools/call", mcp["ferry_ms"], mcp["held_session_ms"]),
    ]
    for name, mine, theirs in rows:
        table.add_row(name, f"{mine} ms", f"{theirs} ms", f"{mine / theirs:.2f}x")
    make_console().print(table)
    make_console().print(
        "without Ferry: code in a plain ipykernel (no sandbox); MCP over one held SDK session"
    )


if __name__ == "__main__":
    main()
