"""A file batch cut by `kill -9` of the process ingesting it finishes after a restart, with
every file indexed exactly once (on SQLite and PostgreSQL)."""

from __future__ import annotations

import io
import random
import time
from pathlib import Path

import pytest
from azure.ai.agents.models import FilePurpose

from ferry.knowledge.chunking import chunk_text
from ferry.spawn import spawn
from tests.agents.conftest import Ferry
from tests.agents.v2.conftest import store_args
from tests.conftest import BACKENDS

pytestmark = pytest.mark.slow

WORDS = [
    "harbour",
    "ferry",
    "lantern",
    "tide",
    "anchor",
    "rope",
    "gull",
    "pier",
    "cargo",
    "compass",
    "fog",
    "bell",
]


def _document(seed: int, words: int) -> bytes:
    rng = random.Random(seed)
    lines = []
    for _ in range(words // 12):
        lines.append(" ".join(rng.choice(WORDS) for _ in range(12)) + ".")
    return "\n".join(lines).encode()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_batch_cut_by_kill_9_finishes_after_restart_indexed_once(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    data = tmp_path / "data"
    args = ["serve", "agents", "--port", "0", *store_args(backend, request)]
    env = {"FERRY_RUN_LEASE": "2"}
    first = spawn(args, data, env=env)
    documents = {n: _document(n, 60_000) for n in range(12)}
    try:
        client = Ferry(first, data).agents()
        ids = {
            client.files.upload_and_poll(
                file=io.BytesIO(text), filename=f"log-{n}.txt", purpose=FilePurpose.AGENTS
            ).id: text
            for n, text in documents.items()
        }
        store = client.vector_stores.create_and_poll(name="cut")
        batch = client.vector_store_file_batches.create(
            vector_store_id=store.id, file_ids=list(ids)
        )
        # Wait until the batch is part done, then cut the process down mid-work.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            counts = client.vector_store_file_batches.get(store.id, batch.id).file_counts
            if counts.completed >= 1:
                break
            time.sleep(0.02)
        assert 1 <= counts.completed < len(ids), counts
    finally:
        first.kill()

    second = spawn(args, data, env=env)
    try:
        client = Ferry(second, data).agents()
        deadline = time.monotonic() + 120
        while True:
            done = client.vector_store_file_batches.get(store.id, batch.id)
            if done.status != "in_progress" or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert done.status == "completed"
        assert done.file_counts.completed == len(ids) and done.file_counts.failed == 0
        # Each file's chunks were written once: its usage is what one chunking of it makes.
        for entry in client.vector_store_files.list(store.id):
            chunks = chunk_text(ids[entry.id].decode(), 800, 400)
            assert entry.usage_bytes == sum(len(c.text.encode()) for c in chunks), entry.id
    finally:
        second.kill()
