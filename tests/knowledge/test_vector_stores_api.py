"""Vector stores, their files and file batches, with the real azure-ai-agents client, on
SQLite and PostgreSQL: ingestion statuses and counts as the `_and_poll` helpers read them,
chunking strategies, failures that stay with their file, and project isolation."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from azure.ai.agents import AgentsClient
from azure.ai.agents.models import FilePurpose, VectorStoreFileStatusFilter
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from tests.agents.conftest import Ferry

TEXT = b"Ferry stores chunks of text. " * 400


def _upload(client: AgentsClient, data: bytes, name: str) -> str:
    return client.files.upload_and_poll(
        file=io.BytesIO(data), filename=name, purpose=FilePurpose.AGENTS
    ).id


def test_create_poll_modify_delete(ferry: Ferry) -> None:
    client = ferry.agents()
    file_id = _upload(client, TEXT, "a.txt")
    store = client.vector_stores.create_and_poll(
        file_ids=[file_id], name="docs", metadata={"team": "ferry"}
    )
    assert store.status == "completed"
    assert store.file_counts.completed == 1 and store.file_counts.total == 1
    assert store.usage_bytes > 0
    assert store.metadata == {"team": "ferry"}
    (entry,) = client.vector_store_files.list(store.id)
    assert entry.id == file_id and entry.status == "completed" and entry.last_error is None
    assert entry.chunking_strategy.as_dict() == {
        "type": "static",
        "static": {"max_chunk_size_tokens": 800, "chunk_overlap_tokens": 400},
    }
    changed = client.vector_stores.modify(
        store.id, name="renamed", expires_after={"anchor": "last_active_at", "days": 7}
    )
    assert changed.name == "renamed"
    assert changed.expires_at - changed.last_active_at == timedelta(days=7)
    assert store.id in [s.id for s in client.vector_stores.list()]
    client.vector_stores.delete(store.id)
    with pytest.raises(ResourceNotFoundError):
        client.vector_stores.get(store.id)


def test_static_chunking_is_kept_and_used(ferry: Ferry) -> None:
    client = ferry.agents()
    file_id = _upload(client, TEXT, "b.txt")
    strategy = {
        "type": "static",
        "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 0},
    }
    store = client.vector_stores.create_and_poll(file_ids=[file_id], chunking_strategy=strategy)
    (entry,) = client.vector_store_files.list(store.id)
    assert entry.chunking_strategy.as_dict() == strategy
    # Smaller chunks, more of them: usage counts each chunk's text once, so with no overlap it
    # is about the file's size.
    assert abs(store.usage_bytes - len(TEXT)) < len(TEXT) // 10


def test_batches_count_their_files_and_failures_stay_with_their_file(ferry: Ferry) -> None:
    client = ferry.agents()
    good = _upload(client, TEXT, "good.md")
    garbage = _upload(client, b"%PDF-1.7 \x00\x01\x02 not a pdf at all", "fake.pdf")
    unsupported = _upload(client, b"MZ\x90\x00", "tool.exe")
    empty = _upload(client, b"", "empty.txt")
    store = client.vector_stores.create_and_poll(name="mixed")
    batch = client.vector_store_file_batches.create_and_poll(
        vector_store_id=store.id, file_ids=[good, garbage, unsupported, empty]
    )
    assert batch.status == "completed"
    assert batch.file_counts.completed == 1
    assert batch.file_counts.failed == 3
    assert batch.file_counts.total == 4
    failed = {
        f.id: f.last_error
        for f in client.vector_store_file_batches.list_files(
            store.id, batch.id, filter=VectorStoreFileStatusFilter.FAILED
        )
    }
    assert failed[garbage].code == "invalid_file"
    assert "fake.pdf" in failed[garbage].message
    assert failed[unsupported].code == "unsupported_file"
    assert failed[empty].code == "invalid_file"
    # The store is usable with what did complete.
    assert client.vector_stores.get(store.id).file_counts.completed == 1


def test_files_added_one_by_one_and_removed(ferry: Ferry) -> None:
    client = ferry.agents()
    store = client.vector_stores.create_and_poll(name="growing")
    file_id = _upload(client, TEXT, "c.txt")
    entry = client.vector_store_files.create_and_poll(vector_store_id=store.id, file_id=file_id)
    assert entry.status == "completed"
    # Adding it again indexes it once.
    again = client.vector_store_files.create_and_poll(vector_store_id=store.id, file_id=file_id)
    assert again.status == "completed"
    assert client.vector_stores.get(store.id).file_counts.total == 1
    client.vector_store_files.delete(store.id, file_id)
    assert client.vector_stores.get(store.id).file_counts.total == 0
    assert client.vector_stores.get(store.id).usage_bytes == 0


def test_deleting_a_file_takes_it_out_of_its_stores(ferry: Ferry) -> None:
    client = ferry.agents()
    file_id = _upload(client, TEXT, "d.txt")
    store = client.vector_stores.create_and_poll(file_ids=[file_id])
    client.files.delete(file_id)
    assert client.vector_stores.get(store.id).file_counts.total == 0
    # And a store cannot be made of a deleted (or unknown) file.
    with pytest.raises(ResourceNotFoundError):
        client.vector_stores.create(file_ids=[file_id])


@pytest.mark.parametrize(
    "body",
    [
        {"chunking_strategy": {"type": "static", "static": {"max_chunk_size_tokens": 50}}},
        {"chunking_strategy": {"type": "fancy"}},
        {"expires_after": {"anchor": "created_at", "days": 1}},
        {"file_ids": "not-a-list"},
        {"metadata": {"k": 5}},
        {"store_configuration": {"data_sources": [{"type": "uri_asset", "uri": "azureml://x"}]}},
    ],
)
def test_bad_vector_store_bodies_get_400(ferry: Ferry, body: dict[str, object]) -> None:
    client = ferry.agents()
    with pytest.raises(HttpResponseError) as caught:
        client.vector_stores.create(body=body)
    assert caught.value.status_code == 400


def test_batches_cancel(ferry: Ferry) -> None:
    client = ferry.agents()
    store = client.vector_stores.create_and_poll(name="cancel")
    ids = [_upload(client, TEXT, f"{n}.txt") for n in range(3)]
    batch = client.vector_store_file_batches.create(vector_store_id=store.id, file_ids=ids)
    cancelled = client.vector_store_file_batches.cancel(store.id, batch.id)
    # Whatever was done by then stays done; the rest is cancelled, and nothing is pending.
    assert cancelled.status in ("cancelled", "completed")
    counts = cancelled.file_counts
    assert counts.in_progress == 0
    assert counts.cancelled + counts.completed == 3


def test_vector_stores_belong_to_their_project(ferry: Ferry) -> None:
    mine, theirs = ferry.agents("demo"), ferry.agents("other")
    file_id = _upload(mine, TEXT, "e.txt")
    store = mine.vector_stores.create_and_poll(file_ids=[file_id])
    with pytest.raises(ResourceNotFoundError):
        theirs.vector_stores.get(store.id)
    with pytest.raises(ResourceNotFoundError):
        theirs.vector_store_files.list(store.id).next()
    with pytest.raises(ResourceNotFoundError):
        theirs.vector_stores.delete(store.id)
    # Nor can another project put this project's file into a store of its own.
    own = theirs.vector_stores.create_and_poll(name="theirs")
    with pytest.raises(ResourceNotFoundError):
        theirs.vector_store_files.create(vector_store_id=own.id, file_id=file_id)
    assert store.id not in [s.id for s in theirs.vector_stores.list()]
    assert mine.vector_stores.get(store.id).file_counts.completed == 1
