"""The official samples of azure-ai-projects 2.10.0 that need no cloud resource, run unchanged
against a real `ferry start` on SQLite and on PostgreSQL: agents with versions behind an agent
endpoint, conversations, responses (plain model and agent), streaming, structured output,
function tools, the `azure_function` tool with the samples' own function app carried over
Ferry's queues, files, file search and image input.

`make test` downloads the samples from the package's source distribution on PyPI into
`.venv-clients/samples` (they are not in its wheel). Each sample runs in a process of its own
with only environment variables set: `ferry env`'s (identity endpoint, CA bundle) and the
samples' `FOUNDRY_*` ones. The model is the scripted rules where their answers tell enough
("You said: …"), and a fake OpenAI-compatible server where a sample needs a model that calls
a tool of its own or answers in JSON.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.agents.conftest import Ferry
from tests.agents.samples import (
    client_environment,
    run_sample,
    samples_folder,
    start_for_samples,
)
from tests.agents.v2.conftest import store_args
from tests.conftest import BACKENDS
from tests.fakes.openai_server import FakeOpenAIServer

pytestmark = pytest.mark.slow

ROOT = Path(__file__).parents[3]
SAMPLES = ROOT / ".venv-clients" / "samples" / "azure-ai-projects-2.10.0" / "samples"
SCRIPTED = "gpt-4o-mini"
FAKE = "fake-model"
"""The model name `ferry.toml` sends to the fake server (every other name: scripted rules)."""


def _samples() -> Path:
    return samples_folder(SAMPLES)


def _function_app(folder: Path) -> Path:
    """The samples' function app (`get_weather_func_app.py`, whose code the samples ship
    commented out) as an app folder: the same lines with the comment marks taken off."""
    source = (_samples() / "agents" / "tools" / "get_weather_func_app.py").read_text()
    code = []
    for line in source.splitlines():
        if line.startswith("# ") and not line.startswith("# ---"):
            code.append(line[2:])
        elif line == "#":
            code.append("")
    if not any("queue_trigger" in line for line in code):
        raise AssertionError("the samples' function app has changed shape")
    folder.mkdir()
    (folder / "function_app.py").write_text(
        "\n".join(code[code.index("import azure.functions as func") :]) + "\n"
    )
    (folder / "host.json").write_text(
        json.dumps({"version": "2.0", "extensions": {"queues": {"maxPollingInterval": "00:00:02"}}})
    )
    values = {
        "FUNCTIONS_WORKER_RUNTIME": "python",
        "STORAGE_CONNECTION": "UseDevelopmentStorage=true",
    }
    (folder / "local.settings.json").write_text(
        json.dumps({"IsEncrypted": False, "Values": values})
    )
    return folder


@dataclass
class Samples:
    ferry: Ferry
    model: FakeOpenAIServer
    environment: dict[str, str]

    def run(self, sample: str, *, model: str = SCRIPTED, **extra: str) -> str:
        """Run one sample as a user would (`python sample.py` in its folder); its output."""
        env = {
            **self.environment,
            "FOUNDRY_MODEL_NAME": model,
            "FOUNDRY_AGENT_NAME": f"sample-{uuid.uuid4().hex[:10]}",
            **extra,
        }
        return run_sample(_samples() / sample, env)


@pytest.fixture(scope="module", params=BACKENDS)
def samples(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Samples]:
    """One `ferry start` per store (SQLite, PostgreSQL) for the whole module."""
    _samples()
    root = tmp_path_factory.mktemp("samples")
    app = _function_app(root / "weather-app")
    with FakeOpenAIServer() as model:
        store = store_args(request.param, request)
        child = start_for_samples(root, app, (FAKE, model.base_url), store)
        try:
            ferry = Ferry(child, root / "data")
            # `ferry env` gives FOUNDRY_PROJECT_ENDPOINT, the name the 2.x samples read.
            yield Samples(ferry, model, client_environment(ferry.data))
        finally:
            child.kill()


@pytest.mark.parametrize(
    "sample",
    [
        "agents/sample_agent_basic.py",
        "agents/sample_agent_basic_async.py",
        "agents/sample_agent_retrieve_basic.py",
        "agents/sample_agent_retrieve_basic_async.py",
    ],
)
def test_agent_samples(samples: Samples, sample: str) -> None:
    out = samples.run(sample)
    assert "Agent endpoint configured for version 1" in out
    assert out.count("Response output: You said: ") >= 1


@pytest.mark.parametrize(
    "sample",
    [
        "responses/sample_responses_basic.py",
        "responses/sample_responses_basic_async.py",
        "responses/sample_responses_basic_without_aiprojectclient.py",
        "responses/sample_responses_basic_without_aiprojectclient_async.py",
    ],
)
def test_response_samples(samples: Samples, sample: str) -> None:
    out = samples.run(sample)
    assert "Response output: You said: " in out


@pytest.mark.parametrize(
    "sample",
    [
        "agents/sample_agent_stream_events.py",
        "responses/sample_responses_stream_events.py",
        "responses/sample_responses_stream_manager.py",
    ],
)
def test_streaming_samples(samples: Samples, sample: str) -> None:
    out = samples.run(sample)
    assert "Stream response created with ID: resp_" in out
    assert "You said: Tell me about the capital city of France" in out
    assert "Response completed." in out


@pytest.mark.parametrize(
    "sample",
    [
        "agents/sample_agent_structured_output.py",
        "agents/sample_agent_structured_output_async.py",
        "responses/sample_responses_structured_output.py",
    ],
)
def test_structured_output_samples(samples: Samples, sample: str) -> None:
    event = {"name": "Science fair", "date": "2025-11-07", "participants": ["Alice", "Bob"]}
    samples.model.reset()
    samples.model.push_text(json.dumps(event))
    out = samples.run(sample, model=FAKE)
    assert f"Response output: {json.dumps(event)}" in out
    # The agent's (or the request's) JSON schema reached the model as its response format.
    shape = samples.model.requests[-1].body["response_format"]
    assert shape["type"] == "json_schema"
    assert shape["json_schema"]["name"] == "CalendarEvent"
    assert shape["json_schema"]["schema"]["required"] == ["name", "date", "participants"]


@pytest.mark.parametrize(
    "sample",
    [
        "agents/tools/sample_agent_function_tool.py",
        "agents/tools/sample_agent_function_tool_async.py",
    ],
)
def test_function_tool_samples(samples: Samples, sample: str) -> None:
    samples.model.reset()
    (call_id,) = samples.model.push_tool_calls(("get_horoscope", {"sign": "Aquarius"}))
    samples.model.push_text("Aquarius: next Tuesday brings a baby otter.")
    out = samples.run(sample, model=FAKE)
    assert f"'call_id': '{call_id}'" in out
    assert "Agent response: Aquarius: next Tuesday brings a baby otter." in out
    # The second turn showed the model the call and the sample's output for it.
    last = samples.model.requests[-1].messages
    assert last[-2]["tool_calls"][0]["function"]["name"] == "get_horoscope"
    assert last[-1] == {
        "role": "tool",
        "tool_call_id": call_id,
        "content": json.dumps(
            {"horoscope": "Aquarius: Next Tuesday you will befriend a baby otter."}
        ),
    }


def test_azure_function_sample_over_queues(samples: Samples) -> None:
    out = samples.run(
        "agents/tools/sample_agent_azure_function.py",
        STORAGE_INPUT_QUEUE_NAME="get-weather-input-queue",
        STORAGE_OUTPUT_QUEUE_NAME="get-weather-output-queue",
        STORAGE_QUEUE_SERVICE_ENDPOINT=samples.ferry.queues_url,
    )
    # The samples' function answers "Weather is {len(location)} degrees and sunny in …".
    assert "Weather is 7 degrees and sunny in Seattle" in out


# Files, vector stores and file_search (the scripted model searches for the user's words and
# answers with the best passage and its citation marker).


@pytest.mark.parametrize("sample", ["files/sample_files.py", "files/sample_files_async.py"])
def test_files_samples(samples: Samples, sample: str) -> None:
    out = samples.run(sample)
    data = (_samples() / "files" / "data" / "test_file.jsonl").read_bytes()
    assert "purpose='fine-tune'" in out and "status='processed'" in out
    assert repr(data) in out  # the content came back as it went up
    assert "Successfully deleted file: assistant_" in out


def test_file_search_sample(samples: Samples) -> None:
    out = samples.run("agents/tools/sample_agent_file_search.py")
    assert "File uploaded to vector store (id: assistant_" in out
    (answer,) = [line for line in out.splitlines() if line.startswith("Agent response: ")]
    # A line of the uploaded file, and its citation.
    quoted, marker = answer.removeprefix("Agent response: ").rsplit(" ", 1)
    assert marker == "【0:0†product_info.md】"
    assert quoted in (_samples() / "agents" / "assets" / "product_info.md").read_text()


@pytest.mark.parametrize(
    "sample",
    [
        "agents/tools/sample_agent_file_search_in_stream.py",
        "agents/tools/sample_agent_file_search_in_stream_async.py",
    ],
)
def test_file_search_stream_samples(samples: Samples, sample: str) -> None:
    out = samples.run(sample)
    assert "Full response: " in out and "【0:0†product_info.md】" in out
    assert "File Citation - Filename: product_info.md, File ID: assistant_" in out


def test_image_input_sample(samples: Samples) -> None:
    samples.model.reset()
    samples.model.push_text("A picture of a lighthouse.")
    out = samples.run("responses/sample_responses_image_input.py", model=FAKE)
    assert "Response output: A picture of a lighthouse." in out
    (user,) = [m for m in samples.model.requests[-1].messages if m["role"] == "user"]
    text, image = user["content"]
    assert text == {"type": "text", "text": "what's in this image?"}
    asset = (_samples() / "assets" / "image_input.png").read_bytes()
    assert image["image_url"] == {
        "url": "data:image/png;base64," + base64.b64encode(asset).decode(),
        "detail": "auto",
    }
