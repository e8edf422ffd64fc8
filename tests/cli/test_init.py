"""`ferry init`: the app it writes is served by `ferry start`, and `/api/prompt` answers a
weather question through the agent, the queues and the GetWeather function."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from ferry.spawn import spawn


def ferry(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ferry", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
    )


def next_steps(printed: str) -> list[str]:
    """The commands `ferry init` says to type: the indented lines after "Next:"."""
    after = printed.split("\nNext:\n", 1)[1]
    return [line.strip() for line in after.splitlines() if line.startswith("  ")]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_init_writes_the_app_and_will_not_overwrite_it(tmp_path: Path) -> None:
    app = tmp_path / "weather-app"
    made = ferry("init", str(app))
    assert made.returncode == 0, made.stderr
    names = sorted(p.name for p in app.iterdir())
    assert names == sorted(
        [
            "README.md",
            "function_app.py",
            "host.json",
            "local.settings.json",
            "requirements.txt",
            "test.http",
        ]
    )
    again = ferry("init", str(app))
    assert again.returncode != 0
    assert "--force" in again.stderr and "Traceback" not in again.stderr
    assert ferry("init", str(app), "--force").returncode == 0


def test_the_next_steps_are_what_to_type(tmp_path: Path) -> None:
    made = ferry("init", "my-app", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert next_steps(made.stdout) == [
        "cd my-app",
        "ferry start",
        "curl -s -X POST http://127.0.0.1:7071/api/prompt "
        '-d \'{"Prompt": "What is the weather in Seattle, WA?"}\'',
    ]
    assert "installs requirements.txt" in made.stdout
    here = ferry("init", "--force", cwd=tmp_path / "my-app")
    assert next_steps(here.stdout)[0] == "ferry start"


def test_the_classic_app_pins_the_client_that_has_its_api(tmp_path: Path) -> None:
    # The code calls project.agents.create_agent / threads / runs: azure-ai-projects 1.x with
    # azure-ai-agents; 2.x removed that client, so an unpinned requirement would break it.
    assert ferry("init", str(tmp_path), "--api", "classic").returncode == 0
    assert "agents.create_agent(" in (tmp_path / "function_app.py").read_text()
    pins = (tmp_path / "requirements.txt").read_text().splitlines()
    assert "azure-ai-projects>=1.0.0,<2" in pins
    assert "azure-ai-agents>=1.0.0,<2" in pins


def test_the_v2_app_is_the_default_and_pins_the_2x_client(tmp_path: Path) -> None:
    # The code creates agent versions and asks through the Responses API: azure-ai-projects
    # 2.x; 1.x had neither.
    made = ferry("init", str(tmp_path))
    assert made.returncode == 0, made.stderr
    assert "agents API v2" in made.stdout
    code = (tmp_path / "function_app.py").read_text()
    assert "agents.create_version(" in code and "responses.create(" in code
    assert "azure-ai-projects>=2.0.0,<3" in (tmp_path / "requirements.txt").read_text()


def test_an_unknown_api_is_refused_before_writing(tmp_path: Path) -> None:
    unknown = ferry("init", str(tmp_path / "x"), "--api", "v3")
    assert unknown.returncode == 2 and "v3" in unknown.stderr
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("api", ["v2", "classic"])
def test_the_initialised_app_answers_a_prompt(tmp_path: Path, api: str) -> None:
    app = tmp_path / "app"
    assert ferry("init", str(app), "--api", api).returncode == 0
    agents, queues_tls = free_port(), free_port()
    env = {
        # What local.settings.json says for the default ports, moved to free ones.
        "PROJECT_ENDPOINT": f"https://127.0.0.1:{agents}/api/projects/default",
        "STORAGE_CONNECTION__queueServiceUri": f"https://127.0.0.1:{queues_tls}/devstoreaccount1",
    }
    args = ["start", "--app", str(app), "--queue-port", "0", "--http-port", "0"]
    args += ["--agents-port", str(agents), "--queue-tls-port", str(queues_tls)]
    child = spawn([*args, "--identity-port", "0"], tmp_path / "data", env=env)
    try:
        response = httpx.post(
            f"{child.url('functions')}/api/prompt",
            json={"Prompt": "What is the weather in Seattle, WA?"},
            timeout=60,
        )
        assert response.status_code == 200, response.text
        assert "74 degrees and sunny in Seattle, WA" in response.json()["Answer"]
        refused = httpx.post(f"{child.url('functions')}/api/prompt", content=b"nope")
        assert refused.status_code == 400
    finally:
        child.kill()
