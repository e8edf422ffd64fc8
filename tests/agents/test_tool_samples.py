"""The official samples for the tools that act, run unchanged against a real `ferry start` on
SQLite and on PostgreSQL: code_interpreter (azure-ai-agents 1.1.0 and azure-ai-projects
2.10.0), and MCP, connected agents and OpenAPI (azure-ai-agents 1.2.0b6, the classic
client that has them, in a virtual environment of its own beside azure-ai-projects 1.0.0).

A sample's prompt asks for something (a chart of a CSV, a summary of a README) that only a
real model would turn into a tool call, so each sample gets a fake OpenAI-compatible model
that makes the call a model would make; everything else is real: the sandboxed kernel runs
the program on the sample's file, the MCP server (written with the official SDK, given to
the samples by their MCP_SERVER_URL variable) answers after the sample approves the call,
the connected agent runs on its own thread. The OpenAPI samples' specs name internet APIs:
Ferry's requests go to a proxy that refuses them (nothing leaves this machine), which shows
the calls were made and that their failure is told to the model, not a failed run.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.agents.conftest import APPS, Ferry
from tests.agents.samples import (
    client_environment,
    run_sample,
    samples_folder,
    start_for_samples,
)
from tests.agents.v2.conftest import store_args
from tests.conftest import BACKENDS
from tests.fakes.egress_proxy import EgressProxy
from tests.fakes.mcp_server import McpTestServer
from tests.fakes.openai_server import FakeOpenAIServer, Reply

pytestmark = pytest.mark.slow

ROOT = Path(__file__).parents[2]
CLIENTS = ROOT / ".venv-clients"
CLASSIC = CLIENTS / "agents-samples" / "azure-ai-agents-1.1.0" / "samples"
BETA = CLIENTS / "agents-beta" / "azure-ai-agents-1.2.0b6" / "samples"
BETA_PYTHON = CLIENTS / "agents-beta" / "bin" / "python"
V2 = CLIENTS / "samples" / "azure-ai-projects-2.10.0" / "samples"
MODEL = "fake-tools"

CHART = (
    "import pandas as pd, matplotlib.pyplot as plt\n"
    "df = pd.read_csv('/mnt/data/synthetic_500_quarterly_results.csv', thousands=',')\n"
    "t = df[df.sector == 'TRANSPORTATION']\n"
    "ax = t.plot.bar(x='name', y='operating_profit', legend=False)\n"
    "plt.tight_layout()\n"
    "plt.savefig('/mnt/data/transportation_operating_profit.png')\n"
    "plt.show()\n"
    "print(len(t), 'companies')\n"
)
LINK = "sandbox:/mnt/data/transportation_operating_profit.png"


SAMPLE_WEATHER = """

@app.function_name(name="SampleWeather")
@app.queue_trigger(arg_name="msg", queue_name="weather-input", connection="AzureWebJobsStorage")
@app.queue_output(arg_name="out", queue_name="weather-output", connection="AzureWebJobsStorage")
def sample_weather(msg: func.QueueMessage, out: func.Out[str]) -> None:
    payload = json.loads(msg.get_body().decode("utf-8"))
    answer = {"Value": "Rainy in " + payload["Location"], "CorrelationId": payload["CorrelationId"]}
    out.set(json.dumps(answer))
"""
"""The weather function the multiple-connected-agents sample's weather agent calls over the
queues it names (the sample ships none): added to the test's copy of the weather app."""


@dataclass
class Samples:
    ferry: Ferry
    model: FakeOpenAIServer
    mcp: McpTestServer
    proxy: EgressProxy
    environment: dict[str, str]

    def run(self, folder: Path, sample: str, *, python: str | None = None) -> str:
        env = {
            **self.environment,
            "STORAGE_QUEUE_URI": self.ferry.queues_url,
            "MODEL_DEPLOYMENT_NAME": MODEL,
            "FOUNDRY_MODEL_NAME": MODEL,
            "MCP_SERVER_URL": self.mcp.url,
            "MCP_SERVER_URL_1": self.mcp.url,
            "MCP_SERVER_URL_2": self.mcp.url,
            "OPENAPI_PROJECT_CONNECTION_ID": "tripadvisor-key",
            "MCP_PROJECT_CONNECTION_ID": "github-mcp",
            "PROJECT_OPENAPI_CONNECTION_NAME": "tripadvisor-key",
            "OPENAPI_CONNECTION_ID": "tripadvisor-key",
        }
        out = run_sample(samples_folder(folder) / sample, env, python=python or _python())
        assert "Run failed" not in out, out[-4000:]
        return out


def _python() -> str:
    import sys

    return sys.executable


def _assets() -> None:
    """Assets the samples read that their source distributions do not ship: the CSV and the
    weather and TripAdvisor specs (from the 2.10.0 samples, which have them), and a small
    spec of a currency API of our own for the OpenAPI sample's countries.json (shipped by
    none)."""
    shipped = samples_folder(V2) / "agents" / "assets"
    for source, folder in (
        ("synthetic_500_quarterly_results.csv", CLASSIC),
        ("weather_openapi.json", BETA),
        ("tripadvisor_openapi.json", BETA),
        ("weather_openapi.json", CLASSIC),
        ("tripadvisor_openapi.json", CLASSIC),
    ):
        target = samples_folder(folder) / "assets" / source
        if not target.exists():
            shutil.copy(shipped / source, target)
    for folder in (BETA, CLASSIC):
        _countries(samples_folder(folder) / "assets" / "countries.json")


def _countries(countries: Path) -> None:
    if not countries.exists():
        spec = {
            "openapi": "3.1.0",
            "info": {"title": "Countries", "version": "1.0"},
            "servers": [{"url": "https://restcountries.net"}],
            "paths": {
                "/v3.1/currency": {
                    "get": {
                        "operationId": "LookupCountryByCurrency",
                        "description": "Countries that use a currency",
                        "parameters": [
                            {
                                "name": "currency",
                                "in": "query",
                                "required": True,
                                "schema": {"type": "string"},
                            }
                        ],
                        "responses": {"200": {"description": "The countries"}},
                    }
                }
            },
        }
        countries.write_text(json.dumps(spec))


@pytest.fixture(scope="module", params=BACKENDS)
def samples(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Samples]:
    _assets()
    root = tmp_path_factory.mktemp("tool-samples")
    app = root / "weather"
    shutil.copytree(APPS / "weather", app)
    with open(app / "function_app.py", "a") as code:
        code.write(SAMPLE_WEATHER)
    with FakeOpenAIServer() as model, McpTestServer() as mcp, EgressProxy() as proxy:
        env = {
            "HTTPS_PROXY": proxy.url,
            "HTTP_PROXY": proxy.url,
            "NO_PROXY": "127.0.0.1,localhost,::1",
            # The keys of the project connections the samples name (see Samples.run).
            "FERRY_CONNECTION_TRIPADVISOR_KEY": "tripadvisor-test-key",
            "FERRY_CONNECTION_GITHUB_MCP": "github-test-token",
        }
        store = store_args(request.param, request)
        child = start_for_samples(root, app, (MODEL, model.base_url), store, env)
        try:
            ferry = Ferry(child, root / "data")
            yield Samples(ferry, model, mcp, proxy, client_environment(ferry.data))
        finally:
            child.kill()


@pytest.mark.parametrize(
    "sample",
    [
        "agents_tools/sample_agents_code_interpreter.py",
        "agents_async/sample_agents_code_interpreter_async.py",
        "agents_files_images_inputs/sample_agents_with_code_interpreter_file_attachment.py",
    ],
)
def test_code_interpreter_chart_samples(samples: Samples, sample: str) -> None:
    samples.model.reset()
    samples.model.push_tool_calls(("code_interpreter", {"code": CHART}))
    samples.model.push_text(f"Here is the chart: [Download]({LINK})")
    out = samples.run(CLASSIC, sample)
    # The program ran on the uploaded CSV in the sandbox: its output reached the model.
    (tool,) = [m for m in samples.model.requests[-1].messages if m["role"] == "tool"]
    assert "companies" in tool["content"] and f"Wrote {LINK}" in tool["content"]
    assert "Saved image file to:" in out or "image_file" in out
    if "File Paths:" in out:
        assert f"Text: {LINK}" in out


def test_code_interpreter_attachment_sample(samples: Samples) -> None:
    samples.model.reset()
    program = "print(open('/mnt/data/product_info_1.md').read()[:200])"
    samples.model.push_tool_calls(("code_interpreter", {"code": program}))
    samples.model.push_text("The attachment describes products.")
    out = samples.run(CLASSIC, "agents_async/sample_agents_code_interpreter_attachment_async.py")
    (tool,) = [m for m in samples.model.requests[-1].messages if m["role"] == "tool"]
    assert "Contoso" in tool["content"] or "product" in tool["content"].lower()
    assert "The attachment describes products." in out


MCP_SAMPLES = [
    "agents_tools/sample_agents_mcp.py",
    "agents_tools/sample_agents_mcp_in_create_and_process.py",
    "agents_tools/sample_agents_mcp_stream_iteration.py",
    "agents_tools/sample_agents_mcp_stream_eventhandler.py",
    "agents_streaming/sample_agents_stream_iteration_with_mcp.py",
    "agents_async/sample_agents_mcp_async.py",
    "agents_async/sample_agents_mcp_in_create_and_process_async.py",
    "agents_async/sample_agents_stream_eventhandler_with_mcp_async.py",
]


@pytest.mark.parametrize("sample", MCP_SAMPLES)
def test_mcp_samples(samples: Samples, sample: str) -> None:
    samples.model.reset()
    before = len(samples.mcp.calls)
    arguments = {"query": "Azure REST API specifications README"}
    samples.model.push_tool_calls(("search_azure_rest_api_code", arguments))
    samples.model.push_text("The README explains how the specifications are organised.")
    out = samples.run(BETA, sample, python=str(BETA_PYTHON))
    # The approved call reached the server (with the headers the sample approved it with)
    # and its answer reached the model.
    assert samples.mcp.calls[before:] == [("search_azure_rest_api_code", arguments)]
    assert any(h.get("supersecret") == "123456" for h in samples.mcp.seen_headers)
    (tool,) = [m for m in samples.model.requests[-1].messages if m["role"] == "tool"]
    assert "Azure REST API specifications README" in tool["content"]
    assert "failed" not in out.split("status:")[-1][:40].lower(), out


def test_multiple_mcp_servers_sample(samples: Samples) -> None:
    samples.model.reset()
    before = len(samples.mcp.calls)
    samples.model.push_tool_calls(("search_azure_rest_api_code", {"query": "README"}))
    samples.model.push_text("Done.")
    samples.run(BETA, "agents_tools/sample_agents_multiple_mcp.py", python=str(BETA_PYTHON))
    assert samples.mcp.calls[before:] == [("search_azure_rest_api_code", {"query": "README"})]


GENERATIONS = pytest.mark.parametrize("beta", [False, True], ids=["1.1.0", "1.2.0b6"])


def _generation(beta: bool) -> tuple[Path, str]:
    """The samples folder and the Python (with its client) of one client generation."""
    return (BETA, str(BETA_PYTHON)) if beta else (CLASSIC, _python())


@GENERATIONS
def test_connected_agent_sample(samples: Samples, beta: bool) -> None:
    samples.model.reset()
    samples.model.push_tool_calls(("stock_price_bot", {"input": "Microsoft stock price"}))
    samples.model.push_text("$350")  # the connected agent's own run
    samples.model.push_text("Microsoft's stock price is $350.")
    folder, python = _generation(beta)
    out = samples.run(folder, "agents_tools/sample_agents_connected_agent.py", python=python)
    assert "Microsoft's stock price is $350." in out
    child, parent = samples.model.requests[-2:]
    assert child.messages[-1] == {"role": "user", "content": "Microsoft stock price"}
    assert {"role": "tool", "tool_call_id": parent.messages[-1]["tool_call_id"]}.items() <= (
        parent.messages[-1].items()
    )
    assert parent.messages[-1]["content"] == "$350"


def test_multiple_connected_agents_sample(samples: Samples) -> None:
    """Two connected agents at once (their runs ask the model in no set order, so each gets
    its answers by its instructions); the weather agent calls its function over queues."""
    samples.model.reset()
    samples.model.push_tool_calls(
        ("stock_price_bot", {"input": "Microsoft stock price"}),
        ("weather_bot", {"input": "Weather in Seattle"}),
    )
    stock, weather = "get the stock price of a company", "get the weather for a given location"
    samples.model.push_for(stock, Reply(text="$350"))
    call = {
        "type": "function",
        "function": {"name": "GetWeather", "arguments": '{"Location": "Seattle"}'},
    }
    samples.model.push_for(
        weather, Reply(tool_calls=[{**call, "id": "call_w"}], finish_reason="tool_calls")
    )
    samples.model.push_for(weather, Reply(text="Rainy in Seattle."))
    samples.model.push_text("Microsoft is at $350; Seattle is rainy.")
    out = samples.run(
        BETA, "agents_tools/sample_agents_multiple_connected_agents.py", python=str(BETA_PYTHON)
    )
    assert "Microsoft is at $350; Seattle is rainy." in out
    tools = {m["content"] for m in samples.model.requests[-1].messages if m["role"] == "tool"}
    assert tools == {"$350", "Rainy in Seattle."}


@GENERATIONS
def test_openapi_sample(samples: Samples, beta: bool) -> None:
    samples.model.reset()
    samples.model.push_tool_calls(
        ("get_weather_GetCurrentWeather", {"location": "Seattle"}),
        ("get_countries_LookupCountryByCurrency", {"currency": "THB"}),
    )
    samples.model.push_text("I could not reach the weather or countries services.")
    before = len(samples.proxy.targets)
    folder, python = _generation(beta)
    out = samples.run(folder, "agents_tools/sample_agents_openapi.py", python=python)
    assert "Run finished with status: RunStatus.COMPLETED" in out or "completed" in out
    assert "wttr.in:443" in samples.proxy.targets[before:]
    assert "restcountries.net:443" in samples.proxy.targets[before:]
    tools = [m for m in samples.model.requests[-1].messages if m["role"] == "tool"]
    assert len(tools) == 2 and all("Error" in t["content"] or "403" in t["content"] for t in tools)


@pytest.mark.parametrize(
    "sample",
    [
        "agents/tools/sample_agent_code_interpreter.py",
        "agents/tools/sample_agent_code_interpreter_async.py",
    ],
)
def test_v2_code_interpreter_samples(samples: Samples, sample: str) -> None:
    samples.model.reset()
    table = "for i in range(1, 11):\n    print(*(i * j for j in range(1, 11)))"
    samples.model.push_tool_calls(("code_interpreter", {"code": table}))
    samples.model.push_text("Here is the 10x10 table.")
    out = samples.run(V2, sample)
    assert table in out
    assert "Here is the 10x10 table." in out
    (tool,) = [m for m in samples.model.requests[-1].messages if m["role"] == "tool"]
    assert "10 20 30 40 50 60 70 80 90 100" in tool["content"]


@pytest.mark.parametrize(
    "sample",
    [
        "agents/tools/sample_agent_code_interpreter_with_files.py",
        "agents/tools/sample_agent_code_interpreter_with_files_async.py",
    ],
)
def test_v2_code_interpreter_file_samples(samples: Samples, sample: str) -> None:
    samples.model.reset()
    samples.model.push_tool_calls(("code_interpreter", {"code": CHART}))
    samples.model.push_text(f"Here is the chart: [Download]({LINK})")
    out = samples.run(V2, sample)
    assert "Found generated file: transportation_operating_profit.png" in out
    assert "File downloaded successfully" in out


def test_v2_openapi_sample(samples: Samples) -> None:
    samples.model.reset()
    samples.model.push_tool_calls(("get_weather_GetCurrentWeather", {"location": "Seattle"}))
    samples.model.push_text("The weather service could not be reached.")
    before = len(samples.proxy.targets)
    out = samples.run(V2, "agents/tools/sample_agent_openapi.py")
    assert "Agent response: The weather service could not be reached." in out
    assert "wttr.in:443" in samples.proxy.targets[before:]


def test_v2_code_interpreter_structured_inputs_sample(samples: Samples) -> None:
    """The agent's container names its file as `{{analysis_file_id}}`; the response gives the
    id as a structured input, so the session holds the uploaded numbers.csv."""
    samples.model.reset()
    program = "import pandas as pd\nprint(pd.read_csv('/mnt/data/numbers.csv').x.sum())"
    samples.model.push_tool_calls(("code_interpreter", {"code": program}))
    samples.model.push_text("The sum of x is 6.")
    out = samples.run(V2, "agents/tools/sample_agent_code_interpreter_structured_inputs.py")
    assert "Agent response: The sum of x is 6." in out
    (tool,) = [m for m in samples.model.requests[-1].messages if m["role"] == "tool"]
    assert tool["content"].strip() == "6"


@pytest.mark.parametrize(
    "sample", ["agents/tools/sample_agent_mcp.py", "agents/tools/sample_agent_mcp_async.py"]
)
def test_v2_mcp_samples_offline(samples: Samples, sample: str) -> None:
    """These name a public MCP server (gitmcp.io) in their code: offline, Ferry's attempt to
    list its tools goes to the refusing proxy, and the responses go on without them."""
    samples.model.reset()
    samples.model.push_text("The MCP server could not be reached.")
    samples.model.push_text("Nothing to approve.")
    before = len(samples.proxy.targets)
    out = samples.run(V2, sample)
    assert "gitmcp.io:443" in samples.proxy.targets[before:]
    assert "Agent response: Nothing to approve." in out


def test_v2_openapi_with_project_connection_sample(samples: Samples) -> None:
    samples.model.reset()
    samples.model.push_tool_calls(
        ("tripadvisor_getLocationDetails", {"locationId": "123", "language": "en"})
    )
    samples.model.push_text("Trip Advisor could not be reached.")
    before = len(samples.proxy.targets)
    out = samples.run(V2, "agents/tools/sample_agent_openapi_with_project_connection.py")
    assert "Trip Advisor could not be reached." in out
    assert any("tripadvisor" in target for target in samples.proxy.targets[before:])


def test_v2_mcp_with_project_connection_sample(samples: Samples) -> None:
    samples.model.reset()
    samples.model.push_text("GitHub's MCP server could not be reached.")
    samples.model.push_text("Nothing to approve.")
    before = len(samples.proxy.targets)
    samples.run(V2, "agents/tools/sample_agent_mcp_with_project_connection.py")
    assert "api.githubcopilot.com:443" in samples.proxy.targets[before:]


@GENERATIONS
def test_openapi_connection_auth_sample(samples: Samples, beta: bool) -> None:
    """The 1.2 sample looks its connection up (`connections.get`: Ferry's connections are
    keys in its environment), the 1.1 one is given its id; both call TripAdvisor with it,
    which the proxy refuses."""
    samples.model.reset()
    samples.model.push_tool_calls(
        ("get_weather_getLocationDetails", {"locationId": "187147", "language": "en"})
    )
    samples.model.push_text("Trip Advisor could not be reached.")
    before = len(samples.proxy.targets)
    folder, python = _generation(beta)
    out = samples.run(
        folder, "agents_tools/sample_agents_openapi_connection_auth.py", python=python
    )
    assert "tripadvisor-key" in out  # the connection's id, printed
    assert any("tripadvisor" in target for target in samples.proxy.targets[before:])


def test_multiple_connected_agents_sample_1_1(samples: Samples) -> None:
    """The 1.1.0 version: two connected agents that answer from their instructions."""
    samples.model.reset()
    samples.model.push_tool_calls(
        ("stock_price_bot", {"input": "Microsoft stock price"}),
        ("weather_bot", {"input": "Weather in Seattle"}),
    )
    samples.model.push_for("get the stock price of a company", Reply(text="$350"))
    samples.model.push_for("get the weather for a given location", Reply(text="60 and cloudy"))
    samples.model.push_text("Microsoft is at $350; Seattle is 60 and cloudy.")
    out = samples.run(CLASSIC, "agents_tools/sample_agents_multiple_connected_agents.py")
    assert "Microsoft is at $350; Seattle is 60 and cloudy." in out
    tools = {m["content"] for m in samples.model.requests[-1].messages if m["role"] == "tool"}
    assert tools == {"$350", "60 and cloudy"}
