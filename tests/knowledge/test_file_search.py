"""file_search in classic runs, with the real azure-ai-agents client and the scripted model
(which searches for the user's words and answers with the best passage and its marker), on
SQLite and PostgreSQL: citations, run step details with and without their content, the
stores a run searches (assistant's, thread's, attachments'), and project isolation."""

from __future__ import annotations

import io

import pytest
from azure.ai.agents import AgentsClient
from azure.ai.agents.models import (
    FilePurpose,
    FileSearchTool,
    ListSortOrder,
    MessageAttachment,
    RunAdditionalFieldList,
)
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from tests.agents.conftest import Ferry

MODEL = "gpt-4o-mini"
ZEBRAS = b"""# Animals

Zebras have black and white stripes; no two zebras share a pattern.

# Weather

The harbour is foggy on most mornings in November.
"""


def _store(client: AgentsClient, data: bytes = ZEBRAS, name: str = "animals.md") -> tuple[str, str]:
    file_id = client.files.upload_and_poll(
        file=io.BytesIO(data), filename=name, purpose=FilePurpose.AGENTS
    ).id
    return file_id, client.vector_stores.create_and_poll(file_ids=[file_id]).id


def _ask(client: AgentsClient, agent_id: str, question: str, **thread: object) -> tuple[str, str]:
    created = client.threads.create(**thread)  # type: ignore[arg-type]
    client.messages.create(thread_id=created.id, role="user", content=question)
    run = client.runs.create_and_process(thread_id=created.id, agent_id=agent_id)
    assert run.status == "completed", run.last_error
    return created.id, run.id


def _answer(client: AgentsClient, thread_id: str) -> object:
    messages = list(client.messages.list(thread_id=thread_id, order=ListSortOrder.ASCENDING))
    return messages[-1]


def test_an_answer_cites_the_file_it_quotes(ferry: Ferry) -> None:
    client = ferry.agents()
    file_id, store_id = _store(client)
    tool = FileSearchTool(vector_store_ids=[store_id])
    agent = client.create_agent(
        model=MODEL, name="reader", tools=tool.definitions, tool_resources=tool.resources
    )
    thread_id, run_id = _ask(client, agent.id, "What stripes do zebras have?")
    answer = _answer(client, thread_id)
    text = answer.text_messages[-1].text.value  # type: ignore[attr-defined]
    assert "black and white stripes" in text
    (citation,) = answer.file_citation_annotations  # type: ignore[attr-defined]
    assert citation.file_citation.file_id == file_id
    assert text[citation.start_index : citation.end_index] == citation.text == "【0:0†animals.md】"

    steps = list(client.run_steps.list(thread_id=thread_id, run_id=run_id, order="asc"))
    assert [s.type for s in steps] == ["tool_calls", "message_creation"]
    (call,) = steps[0].step_details.tool_calls
    assert call.type == "file_search"
    (result,) = call.file_search.results
    assert result.file_id == file_id and result.file_name == "animals.md"
    assert 0 < result.score <= 1
    assert result.content is None  # not asked for
    with_content = client.run_steps.get(
        thread_id=thread_id,
        run_id=run_id,
        step_id=steps[0].id,
        include=[RunAdditionalFieldList.FILE_SEARCH_CONTENTS],
    )
    (result,) = with_content.step_details.tool_calls[0].file_search.results
    assert "zebras share a pattern" in result.content[0].text


def test_a_thread_brings_its_own_stores(ferry: Ferry) -> None:
    client = ferry.agents()
    _file_id, store_id = _store(client)
    tool = FileSearchTool(vector_store_ids=[store_id])
    agent = client.create_agent(model=MODEL, name="plain", tools=tool.definitions)
    thread_id, _ = _ask(client, agent.id, "Is the harbour foggy?", tool_resources=tool.resources)
    assert "foggy" in _answer(client, thread_id).text_messages[-1].text.value  # type: ignore[attr-defined]


def test_attachments_go_into_the_threads_store(ferry: Ferry) -> None:
    client = ferry.agents()
    file_id = client.files.upload_and_poll(
        file=io.BytesIO(ZEBRAS), filename="attached.md", purpose=FilePurpose.AGENTS
    ).id
    agent = client.create_agent(model=MODEL, name="no-tools")
    thread = client.threads.create()
    client.messages.create(
        thread_id=thread.id,
        role="user",
        content="What do zebras look like?",
        attachments=[MessageAttachment(file_id=file_id, tools=FileSearchTool().definitions)],
    )
    run = client.runs.create_and_process(thread_id=thread.id, agent_id=agent.id)
    assert run.status == "completed", run.last_error
    # The thread now has a vector store of its own, holding the file.
    stores = client.threads.get(thread.id).tool_resources.file_search.vector_store_ids
    (store_id,) = stores
    assert [f.id for f in client.vector_store_files.list(store_id)] == [file_id]
    answer = _answer(client, thread.id)
    assert answer.file_citation_annotations[0].file_citation.file_id == file_id  # type: ignore[attr-defined]
    assert answer.attachments == []  # the answer has none; the question keeps its own
    question = list(client.messages.list(thread_id=thread.id, order=ListSortOrder.ASCENDING))[0]
    assert question.attachments[0].file_id == file_id


def test_no_match_and_no_store_are_told_to_the_model(ferry: Ferry) -> None:
    client = ferry.agents()
    _file_id, store_id = _store(client)
    tool = FileSearchTool(vector_store_ids=[store_id])
    agent = client.create_agent(
        model=MODEL, name="miss", tools=tool.definitions, tool_resources=tool.resources
    )
    thread_id, _ = _ask(client, agent.id, "quantum chromodynamics")
    assert "No passage of the files matches" in (
        _answer(client, thread_id).text_messages[-1].text.value  # type: ignore[attr-defined]
    )


def test_file_search_never_crosses_projects(ferry: Ferry) -> None:
    mine, theirs = ferry.agents("demo"), ferry.agents("other")
    _file_id, my_store = _store(mine)
    # Naming another project's store is a 404, for an assistant and for a thread.
    tool = FileSearchTool(vector_store_ids=[my_store])
    with pytest.raises(ResourceNotFoundError):
        theirs.create_agent(
            model=MODEL, name="thief", tools=tool.definitions, tool_resources=tool.resources
        )
    with pytest.raises(ResourceNotFoundError):
        theirs.threads.create(tool_resources=tool.resources)
    # Their own store, with other words: a search for zebras finds nothing of ours.
    _, their_store = _store(theirs, b"Lighthouses guide ships at night.", "ships.md")
    their_tool = FileSearchTool(vector_store_ids=[their_store])
    agent = theirs.create_agent(
        model=MODEL, name="own", tools=their_tool.definitions, tool_resources=their_tool.resources
    )
    thread_id, run_id = _ask(theirs, agent.id, "zebras stripes")
    steps = list(theirs.run_steps.list(thread_id=thread_id, run_id=run_id, order="asc"))
    assert steps[0].step_details.tool_calls[0].file_search.results == []


def test_tool_options_are_checked(ferry: Ferry) -> None:
    client = ferry.agents()
    for bad in (
        {"type": "file_search", "file_search": {"max_num_results": 0}},
        {"type": "file_search", "file_search": {"ranking_options": {"score_threshold": 2}}},
    ):
        with pytest.raises(HttpResponseError) as caught:
            client.create_agent(body={"model": MODEL, "tools": [bad]})
        assert caught.value.status_code == 400
    two = {"file_search": {"vector_store_ids": ["vs_a", "vs_b"]}}
    with pytest.raises(HttpResponseError) as caught:
        client.create_agent(
            body={"model": MODEL, "tools": [{"type": "file_search"}], "tool_resources": two}
        )
    assert caught.value.status_code == 400


def test_score_threshold_filters_results(ferry: Ferry) -> None:
    client = ferry.agents()
    _file_id, store_id = _store(client)
    tool = {
        "type": "file_search",
        "file_search": {
            "max_num_results": 5,
            "ranking_options": {"ranker": "auto", "score_threshold": 1.0},
        },
    }
    resources = {"file_search": {"vector_store_ids": [store_id]}}
    agent = client.create_agent(body={"model": MODEL, "tools": [tool], "tool_resources": resources})
    # Half the words match: under a threshold of 1.0, nothing is good enough.
    thread_id, run_id = _ask(client, agent.id, "zebras giraffes")
    steps = list(client.run_steps.list(thread_id=thread_id, run_id=run_id, order="asc"))
    search = steps[0].step_details.tool_calls[0].file_search
    assert search.ranking_options.score_threshold == 1.0
    assert search.results == []
