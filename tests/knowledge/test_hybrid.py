"""Hybrid retrieval: with an embeddings model set (here a fake OpenAI-compatible server whose
vectors are bags of concepts, so synonyms land together), file_search finds a passage that
shares no word with the question, which full-text search alone cannot; the same store on a
Ferry without embeddings finds nothing. Failures of the embeddings server fail the file at
ingestion (with a clear last_error) and fall back to full-text at query time."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from azure.ai.agents import AgentsClient
from azure.ai.agents.models import FilePurpose, FileSearchTool

from ferry.spawn import spawn
from tests.agents.conftest import Ferry
from tests.agents.v2.conftest import store_args
from tests.conftest import BACKENDS
from tests.fakes.openai_server import FakeOpenAIServer

MODEL = "gpt-4o-mini"
CARS = b"Every car needs new brakes and tyres after some years on the road."
FRUIT = b"Bananas are rich in potassium and grow in warm places."
QUESTION = "automobile upkeep"  # no word in common with CARS


@dataclass
class Hybrid:
    ferry: Ferry
    embeddings: FakeOpenAIServer


@pytest.fixture(scope="module", params=BACKENDS)
def hybrid(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Hybrid]:
    root = tmp_path_factory.mktemp("hybrid")
    with FakeOpenAIServer() as server:
        server.concepts = {"automobile": "car", "upkeep": "brakes"}
        config = root / "ferry.toml"
        config.write_text(
            f'[embeddings]\nmodel = "fake-embeddings"\nbase_url = "{server.base_url}"\n'
            'api_key = "sk-test"\n'
        )
        args = ["serve", "agents", "--port", "0", "--config", str(config)]
        child = spawn([*args, *store_args(request.param, request)], root / "data")
        try:
            yield Hybrid(Ferry(child, root / "data"), server)
        finally:
            child.kill()


def _search(client: AgentsClient, store_id: str, question: str) -> list[str]:
    """The file names a file_search run found for `question`."""
    tool = FileSearchTool(vector_store_ids=[store_id])
    agent = client.create_agent(
        model=MODEL, name="hybrid", tools=tool.definitions, tool_resources=tool.resources
    )
    thread = client.threads.create()
    client.messages.create(thread_id=thread.id, role="user", content=question)
    run = client.runs.create_and_process(thread_id=thread.id, agent_id=agent.id)
    assert run.status == "completed", run.last_error
    steps = list(client.run_steps.list(thread_id=thread.id, run_id=run.id, order="asc"))
    return [r.file_name for r in steps[0].step_details.tool_calls[0].file_search.results]


def _store(client: AgentsClient) -> str:
    ids = [
        client.files.upload_and_poll(
            file=io.BytesIO(data), filename=name, purpose=FilePurpose.AGENTS
        ).id
        for name, data in (("cars.txt", CARS), ("fruit.txt", FRUIT))
    ]
    store = client.vector_stores.create_and_poll(file_ids=ids)
    assert store.file_counts.completed == 2
    return store.id


def test_a_synonym_finds_its_passage(hybrid: Hybrid) -> None:
    client = hybrid.ferry.agents()
    store_id = _store(client)
    found = _search(client, store_id, QUESTION)
    assert found[0] == "cars.txt"


def test_without_embeddings_the_same_question_finds_nothing(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    child = spawn(["serve", "agents", "--port", "0"], tmp_path / "data")
    try:
        client = Ferry(child, tmp_path / "data").agents()
        assert _search(client, _store(client), QUESTION) == []
    finally:
        child.kill()


def test_a_failing_embeddings_server(hybrid: Hybrid) -> None:
    client = hybrid.ferry.agents()
    store_id = _store(client)  # indexed while the server works
    hybrid.embeddings.embeddings_fail = True
    try:
        # At query time: the words alone are searched, and the run goes on.
        assert _search(client, store_id, "bananas") == ["fruit.txt"]
        # At ingestion: the file fails, saying why.
        file_id = client.files.upload_and_poll(
            file=io.BytesIO(CARS), filename="late.txt", purpose=FilePurpose.AGENTS
        ).id
        entry = client.vector_store_files.create_and_poll(vector_store_id=store_id, file_id=file_id)
        assert entry.status == "failed"
        assert entry.last_error.code == "embeddings_failed"
        assert "fake-embeddings" in entry.last_error.message
    finally:
        hybrid.embeddings.embeddings_fail = False
