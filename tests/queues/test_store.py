"""The queue semantics, the same test bodies over SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest

from ferry.queues.errors import (
    InvalidQueryParameterValue,
    MessageNotFound,
    QueueAlreadyExists,
    QueueNotFound,
)
from ferry.queues.models import AccessPolicy
from ferry.queues.store import QueueStore
from ferry.store import Database
from ferry.store.schema import NEVER
from tests.conftest import FakeClock

A = "devstoreaccount1"
WEEK = 7 * 24 * 3600


@pytest.fixture
def store(database: Database, clock: FakeClock) -> QueueStore:
    return QueueStore(database, clock)


async def put(store: QueueStore, text: str = "hello", *, vt: int = 0, ttl: int = WEEK):
    return await store.put_message(A, "q", text, visibility_timeout=vt, ttl=ttl)


@pytest.fixture
async def queue(store: QueueStore) -> str:
    await store.create_queue(A, "q", {})
    return "q"


# -- queues ----------------------------------------------------------------------------------


async def test_create_is_idempotent_with_same_metadata_only(store: QueueStore) -> None:
    assert await store.create_queue(A, "orders", {"Team": "red"}) is True
    # Metadata names compare without regard to case, as the service does.
    assert await store.create_queue(A, "orders", {"team": "red"}) is False
    with pytest.raises(QueueAlreadyExists):
        await store.create_queue(A, "orders", {"team": "blue"})


async def test_accounts_are_separate_namespaces(store: QueueStore) -> None:
    await store.create_queue(A, "shared", {})
    await store.create_queue("other", "shared", {"x": "1"})
    await store.put_message(A, "shared", "mine", visibility_timeout=0, ttl=60)
    assert (await store.get_queue("other", "shared")).approximate_message_count == 0
    with pytest.raises(QueueNotFound):
        await store.get_queue("third", "shared")


async def test_delete_queue_removes_its_messages(store: QueueStore, queue: str) -> None:
    await put(store)
    await store.delete_queue(A, queue)
    with pytest.raises(QueueNotFound):
        await store.peek_messages(A, queue, count=1)
    with pytest.raises(QueueNotFound):
        await store.delete_queue(A, queue)
    await store.create_queue(A, queue, {})
    assert await store.peek_messages(A, queue, count=32) == []


async def test_metadata_round_trip(store: QueueStore, queue: str) -> None:
    await store.set_metadata(A, queue, {"Owner": "ferry", "n": "1"})
    info = await store.get_queue(A, queue)
    assert info.metadata == {"Owner": "ferry", "n": "1"}
    with pytest.raises(QueueNotFound):
        await store.set_metadata(A, "missing", {})


async def test_list_pages_in_byte_order_with_prefix(store: QueueStore) -> None:
    names = ["a-b", "a0", "ab", "b1", "b-2", "c", "a1b"]
    for name in names:
        await store.create_queue(A, name, {"name": name})
    seen: list[str] = []
    marker = ""
    while True:
        page = await store.list_queues(
            A, prefix="", marker=marker, max_results=2, with_metadata=False
        )
        seen += [q.name for q in page.queues]
        assert len(page.queues) <= 2
        if not page.next_marker:
            break
        marker = page.next_marker
    assert seen == sorted(names, key=lambda n: n.encode())
    only_a = await store.list_queues(A, prefix="a", marker="", max_results=10, with_metadata=True)
    assert [q.name for q in only_a.queues] == ["a-b", "a0", "a1b", "ab"]
    assert only_a.queues[0].metadata == {"name": "a-b"}


async def test_list_prefix_treats_like_wildcards_literally(store: QueueStore) -> None:
    await store.create_queue(A, "abc", {})
    page = await store.list_queues(A, prefix="a%", marker="", max_results=10, with_metadata=False)
    assert page.queues == []
    page = await store.list_queues(A, prefix="_", marker="", max_results=10, with_metadata=False)
    assert page.queues == []


async def test_access_policies_round_trip(store: QueueStore, queue: str) -> None:
    policies = [AccessPolicy("p1", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z", "raup")]
    await store.set_access_policies(A, queue, policies)
    assert await store.get_access_policies(A, queue) == policies
    await store.set_access_policies(A, queue, [])
    assert await store.get_access_policies(A, queue) == []


async def test_service_properties_round_trip(store: QueueStore) -> None:
    assert await store.get_service_properties(A) is None
    await store.set_service_properties(A, {"Cors": []})
    await store.set_service_properties(A, {"Cors": [{"AllowedOrigins": "*"}]})
    assert await store.get_service_properties(A) == {"Cors": [{"AllowedOrigins": "*"}]}


# -- messages --------------------------------------------------------------------------------


async def test_put_reports_times_and_a_usable_receipt(
    store: QueueStore, queue: str, clock: FakeClock
) -> None:
    message = await put(store, vt=10, ttl=60)
    assert message.inserted_at == clock.now
    assert message.visible_at == clock.now + 10_000
    assert message.expires_at == clock.now + 60_000
    assert message.dequeue_count == 0
    # The sender may delete its own message with the receipt from the put.
    assert message.pop_receipt
    await store.delete_message(A, queue, message.message_id, message.pop_receipt)
    assert (await store.get_queue(A, queue)).approximate_message_count == 0


async def test_put_to_missing_queue(store: QueueStore) -> None:
    with pytest.raises(QueueNotFound):
        await store.put_message(A, "nope", "x", visibility_timeout=0, ttl=60)


async def test_received_message_hides_then_reappears_with_higher_count(
    store: QueueStore, queue: str, clock: FakeClock
) -> None:
    await put(store, "one")
    first = await store.get_messages(A, queue, count=1, visibility_timeout=30)
    assert [m.text for m in first] == ["one"]
    assert first[0].dequeue_count == 1
    assert first[0].visible_at == clock.now + 30_000
    assert await store.get_messages(A, queue, count=1, visibility_timeout=30) == []
    clock.advance(29.999)
    assert await store.get_messages(A, queue, count=1, visibility_timeout=30) == []
    clock.advance(0.001)
    again = await store.get_messages(A, queue, count=1, visibility_timeout=30)
    assert again[0].message_id == first[0].message_id
    assert again[0].dequeue_count == 2
    # Receiving again made the first receipt stale: the service then finds no such message.
    assert again[0].pop_receipt != first[0].pop_receipt
    with pytest.raises(MessageNotFound):
        await store.delete_message(A, queue, first[0].message_id, first[0].pop_receipt or "")
    await store.delete_message(A, queue, again[0].message_id, again[0].pop_receipt or "")


async def test_delayed_put_is_invisible_until_due(
    store: QueueStore, queue: str, clock: FakeClock
) -> None:
    await put(store, "later", vt=5)
    assert await store.peek_messages(A, queue, count=32) == []
    assert (await store.get_queue(A, queue)).approximate_message_count == 1
    clock.advance(5)
    assert [m.text for m in await store.peek_messages(A, queue, count=32)] == ["later"]


async def test_get_takes_at_most_count_oldest_first(store: QueueStore, queue: str) -> None:
    for i in range(40):
        await put(store, f"m{i}")
    batch = await store.get_messages(A, queue, count=32, visibility_timeout=30)
    assert [m.text for m in batch] == [f"m{i}" for i in range(32)]
    rest = await store.get_messages(A, queue, count=32, visibility_timeout=30)
    assert [m.text for m in rest] == [f"m{i}" for i in range(32, 40)]


async def test_peek_changes_nothing(store: QueueStore, queue: str) -> None:
    await put(store, "p")
    for _ in range(3):
        peeked = await store.peek_messages(A, queue, count=32)
        assert [(m.text, m.dequeue_count) for m in peeked] == [("p", 0)]
    received = await store.get_messages(A, queue, count=1, visibility_timeout=30)
    assert received[0].dequeue_count == 1


async def test_ttl_expiry_and_never(store: QueueStore, queue: str, clock: FakeClock) -> None:
    await put(store, "short", ttl=10)
    forever = await put(store, "forever", ttl=-1)
    assert forever.expires_at == NEVER
    clock.advance(10)
    assert [m.text for m in await store.peek_messages(A, queue, count=32)] == ["forever"]
    assert (await store.get_queue(A, queue)).approximate_message_count == 1
    assert [m.text for m in await store.get_messages(A, queue, count=32, visibility_timeout=1)] == [
        "forever"
    ]


async def test_expired_message_cannot_be_deleted_or_updated(
    store: QueueStore, queue: str, clock: FakeClock
) -> None:
    message = await put(store, ttl=10)
    clock.advance(11)
    with pytest.raises(MessageNotFound):
        await store.delete_message(A, queue, message.message_id, message.pop_receipt or "")
    with pytest.raises(MessageNotFound):
        await store.update_message(
            A, queue, message.message_id, message.pop_receipt or "", visibility_timeout=0, text=None
        )


async def test_purge_removes_only_expired(store: QueueStore, queue: str, clock: FakeClock) -> None:
    for i in range(5):
        await put(store, f"old{i}", ttl=1)
    await put(store, "young", ttl=100)
    clock.advance(2)
    assert await store.purge_expired(limit=3) == 3
    assert await store.purge_expired(limit=3) == 2
    assert await store.purge_expired(limit=3) == 0
    assert [m.text for m in await store.peek_messages(A, queue, count=32)] == ["young"]


async def test_update_changes_text_visibility_and_receipt(
    store: QueueStore, queue: str, clock: FakeClock
) -> None:
    await put(store, "v1")
    got = (await store.get_messages(A, queue, count=1, visibility_timeout=30))[0]
    updated = await store.update_message(
        A, queue, got.message_id, got.pop_receipt or "", visibility_timeout=0, text="v2"
    )
    assert updated.pop_receipt != got.pop_receipt
    assert updated.visible_at == clock.now
    assert updated.dequeue_count == 1
    with pytest.raises(MessageNotFound):
        await store.update_message(
            A, queue, got.message_id, got.pop_receipt or "", visibility_timeout=0, text=None
        )
    again = (await store.get_messages(A, queue, count=1, visibility_timeout=30))[0]
    assert (again.text, again.dequeue_count) == ("v2", 2)
    # Visibility only: the text stays.
    kept = await store.update_message(
        A, queue, again.message_id, again.pop_receipt or "", visibility_timeout=100, text=None
    )
    assert kept.text == "v2"
    assert kept.visible_at == clock.now + 100_000


async def test_delete_explains_what_was_wrong(store: QueueStore, queue: str) -> None:
    message = await put(store)
    other = await put(store)
    receipt = message.pop_receipt or ""
    with pytest.raises(MessageNotFound):
        await store.delete_message(A, queue, "00000000-0000-0000-0000-000000000000", receipt)
    with pytest.raises(InvalidQueryParameterValue) as malformed:
        await store.delete_message(A, queue, message.message_id, "not-a-receipt")
    assert malformed.value.details["Reason"] == "Invalid pop receipt format"
    # Another message's receipt does not open this one.
    with pytest.raises(MessageNotFound):
        await store.delete_message(A, queue, message.message_id, other.pop_receipt or "")
    with pytest.raises(QueueNotFound):
        await store.delete_message(A, "missing", message.message_id, receipt)
    # A message id from another queue is not found in this one.
    await store.create_queue(A, "elsewhere", {})
    with pytest.raises(MessageNotFound):
        await store.delete_message(A, "elsewhere", message.message_id, receipt)
    await store.delete_message(A, queue, message.message_id, receipt)


async def test_clear_keeps_the_queue(store: QueueStore, queue: str) -> None:
    for _ in range(10):
        await put(store)
    assert await store.clear_messages(A, queue) == 10
    info = await store.get_queue(A, queue)
    assert info.approximate_message_count == 0


async def test_text_is_stored_exactly(store: QueueStore, queue: str) -> None:
    texts = ["", "a\r\nb", "<&>'\"", "é🚀\u2028", "x" * 65536, "' OR 1=1; DROP TABLE queues; --"]
    for text in texts:
        await put(store, text)
    peeked = await store.peek_messages(A, queue, count=32)
    assert [m.text for m in peeked] == texts


async def test_concurrent_consumers_never_share_a_message(store: QueueStore, queue: str) -> None:
    await asyncio.gather(*(put(store, f"m{i}") for i in range(300)))

    async def consume() -> list[str]:
        got: list[str] = []
        while batch := await store.get_messages(A, queue, count=7, visibility_timeout=300):
            got += [m.message_id for m in batch]
        return got

    results = await asyncio.gather(*(consume() for _ in range(8)))
    ids = [i for result in results for i in result]
    assert len(ids) == 300
    assert len(set(ids)) == 300


async def test_group_commit_isolates_failures(store: QueueStore, queue: str) -> None:
    # Given many writes in flight at once, some of which must fail,
    outcomes = await asyncio.gather(
        *(put(store, f"ok{i}") for i in range(50)),
        *(store.put_message(A, "missing", "x", visibility_timeout=0, ttl=60) for _ in range(5)),
        return_exceptions=True,
    )
    # then each failure reaches only its own caller and every other write is kept.
    failures = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(failures) == 5
    assert all(isinstance(f, QueueNotFound) for f in failures)
    assert (await store.get_queue(A, queue)).approximate_message_count == 50


async def test_move_takes_a_message_off_one_queue_onto_another_once(
    store: QueueStore, clock: FakeClock
) -> None:
    """An operator's replay: the text arrives as a new, visible message (dequeue count 0) and
    leaves the source in the same transaction, so a second move finds nothing."""
    await store.create_queue(A, "work-poison", {})
    poisoned = await store.put_message(A, "work-poison", "retry me", visibility_timeout=0, ttl=60)
    keep = await store.put_message(A, "work-poison", "not me", visibility_timeout=0, ttl=60)
    assert await store.move_message(A, "work-poison", poisoned.message_id, "work", ttl=120)
    (moved,) = await store.peek_messages(A, "work", count=32)
    assert (moved.text, moved.dequeue_count) == ("retry me", 0)
    assert moved.message_id != poisoned.message_id and moved.expires_at == clock() + 120_000
    left = await store.peek_messages(A, "work-poison", count=32)
    assert [m.message_id for m in left] == [keep.message_id]
    assert not await store.move_message(A, "work-poison", poisoned.message_id, "work", ttl=120)
    assert not await store.move_message(A, "work-poison", "no-such-id", "work", ttl=120)
    with pytest.raises(QueueNotFound):
        await store.move_message(A, "missing-poison", keep.message_id, "work", ttl=120)
