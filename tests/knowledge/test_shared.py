"""Two processes on one PostgreSQL database: files uploaded through one are read through the
other, and a store made through an API-only process (`--no-engine`) is ingested and searched
by the process that runs the engine."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import pytest
from azure.ai.agents.models import FilePurpose, FileSearchTool, ListSortOrder

from ferry.spawn import spawn
from tests.agents.conftest import Ferry

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_processes_share_files_stores_and_searches(tmp_path: Path, postgres_databases: Any) -> None:
    database = ["--database-url", postgres_databases()]
    # One data folder: one signing key, so both accept the test's tokens.
    worker = spawn(["serve", "agents", "--port", "0", *database], tmp_path / "data")
    api = spawn(["serve", "agents", "--port", "0", "--no-engine", *database], tmp_path / "data")
    try:
        front, back = (
            Ferry(api, tmp_path / "data").agents(),
            Ferry(worker, tmp_path / "data").agents(),
        )
        data = os.urandom(3 * 1024 * 1024)
        blob = front.files.upload_and_poll(
            file=io.BytesIO(data), filename="blob.bin", purpose=FilePurpose.AGENTS
        )
        assert b"".join(back.files.get_content(blob.id)) == data
        notes = back.files.upload_and_poll(
            file=io.BytesIO(b"The lighthouse keeper rings the fog bell at dusk."),
            filename="notes.txt",
            purpose=FilePurpose.AGENTS,
        )
        # The API-only process records the store; the other ingests it.
        store = front.vector_stores.create_and_poll(file_ids=[notes.id])
        assert store.file_counts.completed == 1
        tool = FileSearchTool(vector_store_ids=[store.id])
        agent = front.create_agent(
            model="gpt-4o-mini",
            name="keeper",
            tools=tool.definitions,
            tool_resources=tool.resources,
        )
        thread = front.threads.create()
        front.messages.create(
            thread_id=thread.id, role="user", content="When is the fog bell rung?"
        )
        run = front.runs.create_and_process(thread_id=thread.id, agent_id=agent.id)
        assert run.status == "completed", run.last_error
        answer = list(front.messages.list(thread_id=thread.id, order=ListSortOrder.ASCENDING))[-1]
        assert answer.file_citation_annotations[0].file_citation.file_id == notes.id
    finally:
        api.kill()
        worker.kill()
