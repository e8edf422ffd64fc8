"""The MCP tool's pure rules: which calls wait for approval, how functions are named, and how
a classic run's `tool_resources.mcp` reaches its tools."""

from __future__ import annotations

import pytest

from ferry.agents.tools import v2_tools, with_mcp_resources
from ferry.runs.tools import tool_specs
from ferry.tools.mcp.tool import needs_approval


@pytest.mark.parametrize(
    ("policy", "name", "asks"),
    [
        (None, "add", True),
        ("always", "add", True),
        ("never", "add", False),
        ({"never": {"tool_names": ["add"]}}, "add", False),
        ({"never": {"tool_names": ["add"]}}, "rm", True),
        ({"always": {"tool_names": ["rm"]}}, "rm", True),
        ({"always": {"tool_names": ["rm"]}, "never": {"tool_names": ["add"]}}, "add", False),
        ({"always": {"tool_names": ["x"]}, "never": {"tool_names": ["x"]}}, "x", True),
    ],
)
def test_which_calls_wait_for_approval(policy: object, name: str, asks: bool) -> None:
    assert needs_approval(policy, name) is asks


def test_run_resources_give_headers_and_policy_by_label() -> None:
    (tool,) = v2_tools([{"type": "mcp", "server_label": "gh", "server_url": "http://h/mcp"}])
    assert tool["require_approval"] == "always" and tool["headers"] == {}
    run = {"mcp": [{"server_label": "gh", "headers": {"A": "1"}, "require_approval": "never"}]}
    agent = {"mcp": [{"server_label": "gh", "headers": {"B": "2"}}]}
    (merged,) = with_mcp_resources([tool], run, agent)
    assert merged["headers"] == {"A": "1", "B": "2"}
    assert merged["require_approval"] == "never"
    (untouched,) = with_mcp_resources([tool], {"mcp": [{"server_label": "other"}]})
    assert untouched == tool


def test_an_expanded_tool_offers_its_functions_with_their_targets() -> None:
    (tool,) = v2_tools([{"type": "mcp", "server_label": "gh", "server_url": "http://h/mcp"}])
    function = {"name": "gh_add", "description": "Add", "parameters": {}, "target": "add"}
    specs = tool_specs({"tools": [tool], "expanded": {"0": [function]}})
    assert list(specs) == ["gh_add"]
    stored, spec = specs["gh_add"]
    assert stored["target"] == "add" and stored["server_url"] == "http://h/mcp"
    assert spec.description == "Add"
    # Listed as offering nothing: no functions at all.
    assert tool_specs({"tools": [tool], "expanded": {"0": []}}) == {}
