"""The official samples of azure-ai-agents 1.1.0 (the classic API) for files, vector stores,
file search (with and without streaming), attachments and image input, run unchanged against
a real `ferry start` on SQLite and on PostgreSQL.

`make test` downloads them from the package's source distribution on PyPI into
`.venv-clients/agents-samples` (they are not in its wheel). Each sample runs in a process of
its own with only environment variables set: `ferry env`'s (PROJECT_ENDPOINT, the identity
endpoint, the CA bundle) and MODEL_DEPLOYMENT_NAME. File search works with the scripted model
(it searches for the user's words and answers with the best passage and its citation); the
image samples need a model that accepts images, so they get a fake OpenAI-compatible server,
and the test checks what reached it. Samples that need Azure resources (enterprise search on
blob data sources, Azure AI Search) are not run; the code_interpreter samples are
tests/agents/test_tool_samples.py's.
"""

from __future__ import annotations

import base64
import shutil
import struct
import zlib
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
from tests.fakes.openai_server import FakeOpenAIServer

pytestmark = pytest.mark.slow

ROOT = Path(__file__).parents[2]
SAMPLES = ROOT / ".venv-clients" / "agents-samples" / "azure-ai-agents-1.1.0" / "samples"
SCRIPTED = "gpt-4o-mini"
FAKE = "fake-vision"


def _samples() -> Path:
    return samples_folder(SAMPLES)


@dataclass
class Samples:
    ferry: Ferry
    model: FakeOpenAIServer
    environment: dict[str, str]

    def run(self, sample: str, *, model: str = SCRIPTED) -> str:
        env = {**self.environment, "MODEL_DEPLOYMENT_NAME": model}
        out = run_sample(_samples() / sample, env)
        assert "Run failed" not in out, out[-4000:]
        return out


@pytest.fixture(scope="module", params=BACKENDS)
def samples(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Samples]:
    _samples()
    root = tmp_path_factory.mktemp("agents-samples")
    app = root / "weather"
    shutil.copytree(APPS / "weather", app)
    with FakeOpenAIServer() as model:
        store = store_args(request.param, request)
        child = start_for_samples(root, app, (FAKE, model.base_url), store)
        try:
            ferry = Ferry(child, root / "data")
            yield Samples(ferry, model, client_environment(ferry.data))
        finally:
            child.kill()


# The samples' asset says of Smart Eyewear: "… features … voice commands …"; the scripted
# model answers with the best passage and its marker, which becomes a file_citation.
_CITED = "【0:0†product_info_1.md】"


@pytest.mark.parametrize(
    "sample",
    [
        "agents_tools/sample_agents_file_search.py",
        "agents_files_images_inputs/sample_agents_vector_store_file_search.py",
        "agents_files_images_inputs/sample_agents_with_file_search_attachment.py",
        "agents_files_images_inputs/sample_agents_with_resources_in_thread.py",
        "agents_async/sample_agents_vector_store_file_search_async.py",
        "agents_async/sample_agents_with_file_search_attachment_async.py",
    ],
)
def test_file_search_samples(samples: Samples, sample: str) -> None:
    out = samples.run(sample)
    # The answer quotes the uploaded file and cites it.
    (answer,) = _answers(out)
    assert _CITED in answer, out
    assert "product" in answer.lower(), out


@pytest.mark.parametrize(
    "sample",
    [
        "agents_files_images_inputs/sample_agents_vector_store_batch_file_search.py",
        "agents_async/sample_agents_vector_store_batch_file_search_async.py",
    ],
)
def test_file_batch_samples(samples: Samples, sample: str) -> None:
    """These search once with the store, then take it off the agent and ask again on a new
    thread, whose messages they print: that run has nothing to search."""
    out = samples.run(sample)
    assert "Created vector store file batch, vector store file batch ID: vsfb_" in out
    (answer,) = _answers(out)
    assert "No vector store is available to search." in answer, out


def _image_asset() -> Path:
    """The image samples read `assets/image_file.png`, which the source distribution does
    not ship (only `product_info_1.md` is in it): a 2×2 PNG stands in, made here."""
    path = _samples() / "assets" / "image_file.png"
    if not path.exists():

        def chunk(kind: bytes, data: bytes) -> bytes:
            body = kind + data
            return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

        rows = b"".join(b"\x00" + b"\xff\x00\x00" * 2 for _ in range(2))
        png = b"\x89PNG\r\n\x1a\n"
        png += chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
        png += chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
        path.write_bytes(png)
    return path


def _answers(out: str) -> list[str]:
    return [
        line
        for line in out.splitlines()
        if line.startswith(("assistant: ", "MessageRole.AGENT: ", "agent: "))
    ]


def test_file_search_stream_sample(samples: Samples) -> None:
    out = samples.run("agents_streaming/sample_agents_stream_iteration_with_file_search.py")
    # The search's step, then the answer's, each created before it completes.
    steps = [line for line in out.splitlines() if line.startswith("RunStep type:")]
    assert steps == [
        "RunStep type: RunStepType.TOOL_CALLS, Status: RunStepStatus.IN_PROGRESS",
        "RunStep type: RunStepType.TOOL_CALLS, Status: RunStepStatus.COMPLETED",
        "RunStep type: RunStepType.MESSAGE_CREATION, Status: RunStepStatus.IN_PROGRESS",
        "RunStep type: RunStepType.MESSAGE_CREATION, Status: RunStepStatus.COMPLETED",
    ], out
    assert "Citation 【0:0†product_info_1.md】 from file ID: assistant_" in out
    assert "ThreadRun status: RunStatus.COMPLETED" in out
    assert "Stream completed." in out


@pytest.mark.parametrize(
    ("sample", "kind"),
    [
        ("agents_files_images_inputs/sample_agents_image_input_base64.py", "data"),
        ("agents_files_images_inputs/sample_agents_image_input_file.py", "data"),
        ("agents_files_images_inputs/sample_agents_image_input_url.py", "https"),
        ("agents_async/sample_agents_image_input_base64_async.py", "data"),
        ("agents_async/sample_agents_image_input_file_async.py", "data"),
        ("agents_async/sample_agents_image_input_url_async.py", "https"),
    ],
)
def test_image_input_samples(samples: Samples, sample: str, kind: str) -> None:
    _image_asset()
    samples.model.reset()
    samples.model.push_text("A small picture.")
    out = samples.run(sample, model=FAKE)
    assert "A small picture." in out
    # The image reached the model beside the text, as an image_url part.
    (user,) = [m for m in samples.model.requests[-1].messages if m["role"] == "user"]
    text, image = user["content"]
    assert text == {"type": "text", "text": "Hello, what is in the image ?"}
    url = image["image_url"]["url"]
    if kind == "data":
        asset = _image_asset().read_bytes()
        assert url == "data:image/png;base64," + base64.b64encode(asset).decode()
    else:
        assert url.startswith("https://")
