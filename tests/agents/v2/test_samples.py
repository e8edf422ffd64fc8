"""The official samples of azure-ai-projects 2.10.0 that need no cloud resource, run unchanged
against a real `ferry start`: agents with versions behind an agent endpoint, conversations,
responses (plain model and agent), streaming, structured output, function tools, and the
`azure_function` tool with the samples' own function app carried over Ferry's queues.

`make test` downloads the samples from the package's source distribution on PyPI into
`.venv-clients/samples` (they are not in its wheel). Each sample runs in a process of its own
with only environment variables set: `ferry env`'s (identity endpoint, CA bundle) and the
samples' `FOUNDRY_*` ones. The model is the scripted rules where their answers tell enough
("You said: …"), and a fake OpenAI-compatible server where a sample needs a model that calls
a tool of its own or answers in JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ferry.spawn import spawn
from tests.agents.conftest import Ferry
from tests.conftest import IN_CI
from tests.fakes.openai_server import FakeOpenAIServer

pytestmark = pytest.mark.slow

ROOT = Path(__file__).parents[3]
SAMPLES = ROOT / ".venv-clients" / "samples" / "azure-ai-projects-2.10.0" / "samples"
SCRIPTED = "gpt-4o-mini"
FAKE = "fake-model"
"""The model name `ferry.toml` sends to the fake server (every other name: scripted rules)."""


def _samples() -> Path:
    if not SAMPLES.is_dir():
        message = f"{SAMPLES} is missing: `make test` downloads the samples"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return SAMPLES


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
        path = _samples() / sample
        env = {
            **self.environment,
            "FOUNDRY_MODEL_NAME": model,
            "FOUNDRY_AGENT_NAME": f"sample-{uuid.uuid4().hex[:10]}",
            **extra,
        }
        finished = subprocess.run(
            [sys.executable, path.name],
            cwd=path.parent,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert finished.returncode == 0, (finished.stdout + finished.stderr)[-4000:]
        return finished.stdout


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Samples]:
    _samples()
    root = tmp_path_factory.mktemp("samples")
    app = _function_app(root / "weather-app")
    with FakeOpenAIServer() as model:
        config = root / "ferry.toml"
        config.write_text(
            f'[models."{FAKE}"]\nbackend = "openai"\nbase_url = "{model.base_url}"\n'
            'api_key = "sk-test"\n'
        )
        args = ["start", "--app", str(app), "--config", str(config)]
        args += ["--queue-port", "0", "--http-port", "0", "--agents-port", "0"]
        args += ["--queue-tls-port", "0", "--identity-port", "0"]
        child = spawn(args, root / "data")
        try:
            ferry = Ferry(child, root / "data")
            printed = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "ferry",
                    "env",
                    "--data",
                    str(ferry.data),
                    "--format",
                    "json",
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            # `ferry env` gives FOUNDRY_PROJECT_ENDPOINT, the name the 2.x samples read.
            environment = {**os.environ, **json.loads(printed.stdout)}
            yield Samples(ferry, model, environment)
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
