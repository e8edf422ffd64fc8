"""The dashboard's reads on each store: queue counts split into visible, in flight and
poison, and ids that cannot be a run's refused before any query."""

from __future__ import annotations

from sqlalchemy import Connection, insert

from ferry.dashboard.reads import LIMIT, Reader, valid_run_id
from ferry.queues.store import QueueStore
from ferry.store import Database
from ferry.store.schema import conversations, items


async def test_queues_count_visible_in_flight_and_poison(database: Database) -> None:
    queues = QueueStore(database)
    for name in ("input", "input-poison", "output", "lonely-poison"):
        await queues.create_queue("devstoreaccount1", name, {})
    for text in ("a", "b", "c"):
        await queues.put_message("devstoreaccount1", "input", text, visibility_timeout=0, ttl=60)
    await queues.get_messages("devstoreaccount1", "input", count=1, visibility_timeout=30)
    await queues.put_message(
        "devstoreaccount1", "input-poison", "dead", visibility_timeout=0, ttl=60
    )
    await queues.put_message("devstoreaccount1", "output", "later", visibility_timeout=30, ttl=60)
    shown = {q.name: q for q in (await Reader(database).overview()).queues}
    assert set(shown) == {"input", "output", "lonely-poison"}
    assert (shown["input"].visible, shown["input"].in_flight, shown["input"].poison) == (2, 1, 1)
    assert (shown["output"].visible, shown["output"].in_flight, shown["output"].poison) == (
        0,
        1,
        None,
    )


async def test_an_empty_store_shows_nothing(database: Database) -> None:
    overview = await Reader(database).overview()
    assert overview.agents == overview.runs == overview.queues == []
    assert await Reader(database).run("run_missing") is None


def test_only_plausible_run_ids_are_looked_up() -> None:
    assert valid_run_id("run_abc123") and valid_run_id("resp_" + "a" * 40)
    for hostile in ("", "../etc", "a/b", "r" * 65, "run\x00", "<script>", "ru n"):
        assert not valid_run_id(hostile)


async def test_a_long_conversation_counts_every_item_but_shows_the_first(
    database: Database,
) -> None:
    """The list and the conversation's page give the same count, though the page shows
    only the first items."""
    shown_at_most = LIMIT * 4
    rows = [
        {
            "project": "p",
            "id": f"msg_{n:04d}",
            "conversation_id": "thread_long",
            "type": "message",
            "body": {"role": "user", "content": f"message {n}", "created_at": n},
        }
        for n in range(shown_at_most + 3)
    ]

    def fill(conn: Connection) -> None:
        conn.execute(
            insert(conversations).values(
                project="p", id="thread_long", api="classic", body={"created_at": 1}
            )
        )
        conn.execute(insert(items), rows)

    await database.write(fill)
    reader = Reader(database)
    [listed] = await reader.conversations()
    page = await reader.conversation("thread_long")
    assert page is not None
    assert listed.items == page.conversation.items == shown_at_most + 3
    assert len(page.items) == shown_at_most
    assert page.items[0].id == "msg_0000"
