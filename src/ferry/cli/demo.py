"""`ferry demo`: the seed's round trip over Ferry's queue service, step by step.

Until Ferry's agent service exists, the demo plays both ends of the `azure_function` tool by
hand, over the real protocol: the agent's side puts a tool call on `input`, the function's
side answers on `output` with the same CorrelationId. It then kills the server with SIGKILL
and shows the acknowledged messages are still there after a restart.
"""

from __future__ import annotations

import asyncio
import base64
import json
import tempfile
import uuid
from pathlib import Path

from ferry.cli.output import console
from ferry.queues.auth import DEV_ACCOUNT, DEV_KEY
from ferry.queues.client import QueueClient
from ferry.queues.connection import QueueConnection
from ferry.spawn import spawn

__all__ = ["demo"]


def _encode(payload: dict[str, str]) -> str:
    return base64.b64encode(json.dumps(payload).encode()).decode()


def _decode(text: str) -> dict[str, str]:
    decoded: dict[str, str] = json.loads(base64.b64decode(text))
    return decoded


async def _round_trip(client: QueueClient) -> None:
    for name in ("input", "output"):
        await client.create_queue(name)
    console.print("[green]✓[/green] queues [bold]input[/bold] and [bold]output[/bold] exist")

    correlation_id = str(uuid.uuid4())
    call = {"location": "Seattle, WA", "CorrelationId": correlation_id}
    await client.put_message("input", _encode(call))
    console.print(f"[cyan]agent[/cyan]    → input : {json.dumps(call)}")

    received = await client.get_messages("input", visibility_timeout=30)
    payload = _decode(received[0].text)
    answer = {
        "Value": f"Weather is 74 degrees and sunny in {payload['location']}",
        "CorrelationId": payload["CorrelationId"],
    }
    await client.put_message("output", _encode(answer))
    await client.delete_message("input", received[0].message_id, received[0].pop_receipt or "")
    console.print(f"[magenta]function[/magenta] → output: {json.dumps(answer)}")

    result = await client.get_messages("output")
    reply = _decode(result[0].text)
    assert reply["CorrelationId"] == correlation_id, "the answer belongs to another call"
    await client.delete_message("output", result[0].message_id, result[0].pop_receipt or "")
    console.print(
        f"[cyan]agent[/cyan]    ← output: [bold]{reply['Value']}[/bold] (CorrelationId matches)"
    )


async def _fill(client: QueueClient, count: int) -> None:
    await client.create_queue("durable")
    await asyncio.gather(*(client.put_message("durable", f"message {i}") for i in range(count)))


async def _count(client: QueueClient) -> int:
    return (await client.get_queue("durable")).approximate_message_count or 0


def demo() -> None:
    """Show the seed's tool-call round trip over Ferry's queue service, and its durability."""
    with tempfile.TemporaryDirectory(prefix="ferry-demo-") as folder:
        data = Path(folder)
        console.rule("[bold]Ferry demo[/bold]: the azure_function tool's queues")
        child = spawn(["serve", "queues", "--port", "0"], data)
        url = child.url("queues")
        console.print(f"queue service listening at {url} (SQLite in {data})")
        connection = QueueConnection(DEV_ACCOUNT, url, DEV_KEY)

        async def first_run() -> None:
            async with QueueClient(connection) as client:
                await _round_trip(client)
                await _fill(client, 500)

        try:
            asyncio.run(first_run())
            console.print(
                "[green]✓[/green] 500 messages acknowledged on queue [bold]durable[/bold]"
            )
        finally:
            child.kill()
        console.print("[yellow]✗[/yellow] server killed with SIGKILL (no shutdown)")

        child = spawn(["serve", "queues", "--port", "0"], data)
        try:
            connection = QueueConnection(DEV_ACCOUNT, child.url("queues"), DEV_KEY)

            async def count() -> int:
                async with QueueClient(connection) as client:
                    return await _count(client)

            kept = asyncio.run(count())
        finally:
            child.stop()
        mark = "[green]✓[/green]" if kept == 500 else "[red]✗[/red]"
        console.print(f"{mark} after restart: {kept} of 500 acknowledged messages are there")
        if kept != 500:
            raise SystemExit(1)
