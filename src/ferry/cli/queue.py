"""`ferry queue …`: look at and move messages in any Azure-protocol queue service.

By default the commands talk to the Ferry instance running with the data folder; with
`--connection-string` (or AZURE_STORAGE_CONNECTION_STRING) to any service, Azurite and Azure
Storage included.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from ferry.cli.options import ConfigOption, DataOption, JsonOption
from ferry.cli.output import console, emit
from ferry.instance import Instance
from ferry.queues.auth import DEV_ACCOUNT, DEV_KEY
from ferry.queues.client import QueueClient
from ferry.queues.connection import QueueConnection, parse_connection_string
from ferry.queues.encoding import decode_body, encode_body
from ferry.queues.models import Message
from ferry.queues.times import rfc1123
from ferry.settings import Settings

__all__ = ["queue_app"]

queue_app = typer.Typer(help="List, create and inspect queues; put, peek and pop messages.")

T = TypeVar("T")

ConnectionOption = Annotated[
    str | None,
    typer.Option(
        "--connection-string",
        envvar="AZURE_STORAGE_CONNECTION_STRING",
        help="Talk to this storage account instead of the running Ferry instance.",
        show_default=False,
    ),
]
NameArgument = Annotated[str, typer.Argument(help="Queue name.")]
Base64Option = Annotated[
    bool,
    typer.Option(
        "--base64", help="Messages are base64 (what Azure Functions queue triggers expect)."
    ),
]


def _connection(
    connection_string: str | None, data: Path | None, config: Path | None
) -> QueueConnection:
    if connection_string:
        return parse_connection_string(connection_string)
    settings = Settings.load(config, data=data)
    url = Instance.read(settings.data).services.get("queues")
    if url is None:
        raise typer.BadParameter("the running instance serves no queues", param_hint="--data")
    return QueueConnection(DEV_ACCOUNT, url, DEV_KEY)


def _call(connection: QueueConnection, action: Callable[[QueueClient], Awaitable[T]]) -> T:
    async def run() -> T:
        async with QueueClient(connection) as client:
            return await action(client)

    return asyncio.run(run())


def _show_text(message: Message, decode: bool) -> str:
    if not decode:
        return message.text
    body = decode_body(message.text)
    try:
        if body is not None:
            return body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    return f"{message.text}  (not base64)"


def _rows(messages: list[Message], decode: bool) -> list[dict[str, Any]]:
    return [
        {
            "id": m.message_id,
            "dequeue_count": m.dequeue_count,
            "inserted": rfc1123(m.inserted_at),
            "expires": rfc1123(m.expires_at),
            "text": _show_text(m, decode),
        }
        for m in messages
    ]


@queue_app.command("ls")
def list_queues(
    prefix: Annotated[str, typer.Option(help="Only queues whose name starts with this.")] = "",
    connection_string: ConnectionOption = None,
    data: DataOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """List queues with their approximate message counts."""
    connection = _connection(connection_string, data, config)

    async def action(client: QueueClient) -> list[dict[str, Any]]:
        queues = await client.list_queues(prefix)
        infos = await asyncio.gather(*(client.get_queue(q.name) for q in queues))
        return [
            {"name": i.name, "messages": i.approximate_message_count, "metadata": i.metadata}
            for i in infos
        ]

    emit(_call(connection, action), as_json=as_json, title="queues")


@queue_app.command("create")
def create(
    name: NameArgument,
    connection_string: ConnectionOption = None,
    data: DataOption = None,
    config: ConfigOption = None,
) -> None:
    """Create a queue (no error if it already exists)."""
    created = _call(_connection(connection_string, data, config), lambda c: c.create_queue(name))
    console.print(f"{'created' if created else 'already exists:'} {name}")


@queue_app.command("rm")
def remove(
    name: NameArgument,
    connection_string: ConnectionOption = None,
    data: DataOption = None,
    config: ConfigOption = None,
) -> None:
    """Delete a queue and every message in it."""
    _call(_connection(connection_string, data, config), lambda c: c.delete_queue(name))
    console.print(f"deleted {name}")


@queue_app.command("put")
def put(
    name: NameArgument,
    text: Annotated[str, typer.Argument(help="Message text.")],
    encode: Base64Option = False,
    ttl: Annotated[int | None, typer.Option(help="Seconds to live (-1: forever).")] = None,
    connection_string: ConnectionOption = None,
    data: DataOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Put a message on a queue."""
    body = encode_body(text.encode()) if encode else text
    message = _call(
        _connection(connection_string, data, config),
        lambda c: c.put_message(name, body, ttl=ttl),
    )
    emit(_rows([message], encode), as_json=as_json, title=f"put on {name}")


@queue_app.command("peek")
def peek(
    name: NameArgument,
    count: Annotated[int, typer.Option("-n", "--count", min=1, max=32)] = 32,
    decode: Base64Option = False,
    connection_string: ConnectionOption = None,
    data: DataOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show visible messages without changing them."""
    messages = _call(
        _connection(connection_string, data, config),
        lambda c: c.peek_messages(name, count=count),
    )
    emit(_rows(messages, decode), as_json=as_json, title=name)


@queue_app.command("pop")
def pop(
    name: NameArgument,
    count: Annotated[int, typer.Option("-n", "--count", min=1, max=32)] = 1,
    decode: Base64Option = False,
    connection_string: ConnectionOption = None,
    data: DataOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Receive messages and delete them."""

    async def action(client: QueueClient) -> list[Message]:
        messages = await client.get_messages(name, count=count)
        for m in messages:
            await client.delete_message(name, m.message_id, m.pop_receipt or "")
        return messages

    emit(
        _rows(_call(_connection(connection_string, data, config), action), decode),
        as_json=as_json,
        title=f"popped from {name}",
    )


@queue_app.command("clear")
def clear(
    name: NameArgument,
    connection_string: ConnectionOption = None,
    data: DataOption = None,
    config: ConfigOption = None,
) -> None:
    """Delete every message in a queue, keeping the queue."""
    _call(_connection(connection_string, data, config), lambda c: c.clear_messages(name))
    console.print(f"cleared {name}")
