"""Agents and versions through azure-ai-projects 2.10 against a real `ferry serve agents`:
create, get, list and page, delete; agent endpoints whose version selector splits traffic by
percentage; and the older request forms (`POST /agents`, `POST /agents/{name}`, the
`/openai/responses?api-version=…` base with the `agent` field)."""

from __future__ import annotations

import collections
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from azure.ai.projects import AIProjectClient
from azure.ai.projects.models import (
    AgentEndpointConfig,
    FixedRatioVersionSelectionRule,
    PromptAgentDefinition,
    ProtocolConfiguration,
    ResponsesProtocolConfiguration,
    VersionSelector,
)
from azure.core.exceptions import ResourceNotFoundError

from tests.agents.conftest import Ferry, FerryCredential


@pytest.fixture
def endpoint(ferry: Ferry, request: pytest.FixtureRequest) -> str:
    """A project of the test's own."""
    return ferry.endpoint(request.node.name.split("[")[0][:60].replace("_", "-"))


@pytest.fixture
def project(ferry: Ferry, endpoint: str) -> Iterator[AIProjectClient]:
    with AIProjectClient(
        endpoint=endpoint, credential=FerryCredential(ferry.data), connection_verify=str(ferry.ca)
    ) as client:
        yield client


def prompt(model: str = "gpt-4o-mini", instructions: str = "Be brief.") -> PromptAgentDefinition:
    return PromptAgentDefinition(model=model, instructions=instructions)


def test_versions_count_up_and_list_in_pages(project: AIProjectClient) -> None:
    made = [
        project.agents.create_version(
            agent_name="pager", definition=prompt(instructions=f"v{i}"), metadata={"i": str(i)}
        )
        for i in range(1, 6)
    ]
    assert [v.version for v in made] == ["1", "2", "3", "4", "5"]
    assert made[0].id == "pager:1" and made[0].name == "pager"
    assert made[2].metadata == {"i": "3"}
    agent = project.agents.get(agent_name="pager")
    assert agent.versions.latest.version == "5"
    assert agent.versions.latest.definition["instructions"] == "v5"
    # The pager asks again with after=<last_id> while last_id is set: every version once.
    listed = list(project.agents.list_versions(agent_name="pager", limit=2))
    assert sorted(v.version for v in listed) == ["1", "2", "3", "4", "5"]
    assert (
        project.agents.get_version(agent_name="pager", agent_version="3").definition["instructions"]
        == "v3"
    )
    for name in ("other-one", "other-two"):
        project.agents.create_version(agent_name=name, definition=prompt())
    assert sorted(a.name for a in project.agents.list(limit=1)) == [
        "other-one",
        "other-two",
        "pager",
    ]
    project.agents.delete_version(agent_name="pager", agent_version="5")
    assert project.agents.get(agent_name="pager").versions.latest.version == "4"
    with pytest.raises(ResourceNotFoundError):
        project.agents.get_version(agent_name="pager", agent_version="5")
    project.agents.delete(agent_name="pager")
    with pytest.raises(ResourceNotFoundError):
        project.agents.get(agent_name="pager")


def test_an_endpoint_splits_traffic_by_percentage(
    project: AIProjectClient, ferry: Ferry, endpoint: str
) -> None:
    for instructions in ("one", "two"):
        project.agents.create_version(
            agent_name="split", definition=prompt(instructions=instructions)
        )
    selector = VersionSelector(
        version_selection_rules=[
            FixedRatioVersionSelectionRule(agent_version="1", traffic_percentage=25),
            FixedRatioVersionSelectionRule(agent_version="2", traffic_percentage=75),
        ]
    )
    project.agents.update_details(
        agent_name="split",
        agent_endpoint=AgentEndpointConfig(
            version_selector=selector,
            protocol_configuration=ProtocolConfiguration(
                responses=ResponsesProtocolConfiguration()
            ),
        ),
    )
    assert project.agents.get(agent_name="split").agent_endpoint is not None
    base = f"{endpoint}/agents/split/endpoint/protocols/openai"
    seen: collections.Counter[str] = collections.Counter()
    with httpx.Client(verify=ferry.tls_context(), headers=ferry.auth(), timeout=20) as http:
        for _ in range(200):
            made = http.post(
                f"{base}/responses", params={"api-version": "v1"}, json={"input": "hi"}
            )
            assert made.status_code == 200, made.text
            seen[made.json()["agent_reference"]["version"]] += 1
    # 200 draws at 25/75: version 1 between 25 and 75 times (outside: p < 1e-6).
    assert 25 <= seen["1"] <= 75 and seen["1"] + seen["2"] == 200


def test_the_older_request_forms(ferry: Ferry) -> None:
    with httpx.Client(
        base_url=ferry.endpoint("older"),
        verify=ferry.tls_context(),
        headers=ferry.auth(),
        timeout=20,
    ) as http:
        definition = {"kind": "prompt", "model": "gpt-4o-mini", "instructions": "Hi."}
        made = http.post("/agents", json={"name": "old", "definition": definition})
        assert made.status_code == 200 and made.json()["versions"]["latest"]["version"] == "1"
        taken = http.post("/agents", json={"name": "old", "definition": definition})
        assert taken.status_code == 409
        updated = http.post(
            "/agents/old", json={"definition": {**definition, "instructions": "Yo."}}
        )
        assert updated.json()["versions"]["latest"]["version"] == "2"
        answered = http.post(
            "/openai/responses",
            params={"api-version": "2025-05-15-preview"},
            json={
                "agent": {"type": "agent_reference", "name": "old", "version": "1"},
                "input": "x",
            },
        )
        assert answered.status_code == 200, answered.text
        response = answered.json()
        assert response["agent_reference"] == {
            "type": "agent_reference",
            "name": "old",
            "version": "1",
        }
        assert (
            response["instructions"] == "Hi."
            and response["output"][0]["content"][0]["text"] == "You said: x"
        )


def test_versions_made_at_once_are_numbered_once_each(ferry: Ferry, endpoint: str) -> None:
    # Given ten clients making versions of one new agent at the same moment (on PostgreSQL,
    # ten transactions at once),
    body = {"definition": {"kind": "prompt", "model": "m"}}

    def make(_: int) -> httpx.Response:
        with httpx.Client(verify=ferry.tls_context(), headers=ferry.auth(), timeout=30) as http:
            return http.post(f"{endpoint}/agents/racer/versions", json=body)

    with ThreadPoolExecutor(max_workers=10) as pool:
        made = list(pool.map(make, range(10)))
    # each gets a version of its own.
    assert [r.status_code for r in made] == [200] * 10, [r.text for r in made]
    assert sorted(int(r.json()["version"]) for r in made) == list(range(1, 11))


def test_one_response_at_a_time_on_a_conversation(ferry: Ferry, endpoint: str) -> None:
    with httpx.Client(verify=ferry.tls_context(), headers=ferry.auth(), timeout=30) as http:
        conversation = http.post(f"{endpoint}/openai/v1/conversations", json={}).json()["id"]

    def ask(index: int) -> httpx.Response:
        with httpx.Client(verify=ferry.tls_context(), headers=ferry.auth(), timeout=30) as http:
            body = {"model": "m", "conversation": conversation, "input": f"q{index}"}
            return http.post(f"{endpoint}/openai/v1/responses", json={**body, "background": True})

    with ThreadPoolExecutor(max_workers=8) as pool:
        asked = list(pool.map(ask, range(8)))
    codes = sorted(r.status_code for r in asked)
    # The first is taken; the others, while it is active, are told so (it may also have
    # finished before a later one arrived, which is then taken too).
    assert codes[0] == 200 and set(codes) <= {200, 400}
    for refused in (r for r in asked if r.status_code == 400):
        assert "in progress on conversation" in refused.json()["error"]["message"]
