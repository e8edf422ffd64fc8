"""The newcomer's path, exactly as the README and `ferry init` tell it, in a fresh virtual
environment with whatever pip resolves today: `pip install '<checkout>[local]'`,
`ferry init my-app` (the v2 client, the default; and `--api classic`), the steps it prints
(`cd my-app`, `ferry start`), then the request in the app's test.http, answered by the
embedded model (no model configured).

Only pip talks to anything but this machine's loopback address. pip's wheel cache makes the
llama.cpp bindings quick after the first build (which takes minutes); where the package index
cannot be reached the test is skipped on a laptop and fails in CI.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from ferry.errors import InstanceNotRunning
from ferry.instance import Instance
from tests.cli.test_init import next_steps
from tests.conftest import IN_CI, free_ports

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

CHECKOUT = Path(__file__).resolve().parents[2]
UNREACHABLE = re.compile(
    r"NewConnectionError|Temporary failure in name resolution|Network is unreachable|"
    r"No matching distribution found"
)


def fresh_environment(folder: Path) -> dict[str, str]:
    """The variables of a shell whose PATH starts with a fresh virtual environment (made
    here), and nothing of the test's own Python."""
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True, timeout=300)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["PATH"] = f"{folder / 'bin'}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}"
    env["VIRTUAL_ENV"] = str(folder)
    env["CMAKE_ARGS"] = "-DGGML_NATIVE=OFF"  # as the Makefile builds llama.cpp: portable
    env["FERRY_FALLBACK_MODEL"] = "local"  # what a newcomer gets: the embedded model
    return env


def pip_install(env: dict[str, str], what: str) -> None:
    done = subprocess.run(
        ["python", "-m", "pip", "install", "--disable-pip-version-check", what],
        env=env,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    if done.returncode != 0:
        output = done.stdout + done.stderr
        if UNREACHABLE.search(output) and not IN_CI:
            pytest.skip(f"the package index cannot be reached: {output[-500:]}")
        pytest.fail(f"pip install {what} failed:\n{output[-3000:]}")


def wait_for_instance(data: Path, process: subprocess.Popen[bytes], log: Path) -> Instance:
    deadline = time.monotonic() + 900  # the first start installs requirements.txt
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"ferry start exited with {process.returncode}:\n{log.read_text()}")
        try:
            instance = Instance.read(data)
        except (InstanceNotRunning, OSError, ValueError):
            pass
        else:
            if instance.pid == process.pid:
                return instance
        time.sleep(0.1)
    pytest.fail(f"ferry start did not listen in time:\n{log.read_text()}")


@pytest.fixture(scope="module")
def newcomer(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A fresh virtual environment with Ferry installed as the README says."""
    env = fresh_environment(tmp_path_factory.mktemp("newcomer") / "venv")
    pip_install(env, f"{CHECKOUT}[local]")
    return env


@pytest.mark.parametrize(
    ("options", "client"),
    [((), "azure-ai-projects-2."), (("--api", "classic"), "azure-ai-projects-1.")],
)
def test_install_init_start_and_ask_as_a_newcomer_would(
    newcomer: dict[str, str], tmp_path: Path, options: tuple[str, ...], client: str
) -> None:
    env = dict(newcomer)
    made = subprocess.run(
        ["ferry", "init", "my-app", *options],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stdout + made.stderr
    cd, start, ask = next_steps(made.stdout)
    assert (cd, start) == ("cd my-app", "ferry start") and ask.startswith("curl ")
    app = tmp_path / cd.removeprefix("cd ")

    # `ferry start` as printed, on free ports: local.settings.json names the default ones, and
    # the environment wins over it, as with `func start`.
    agents, queues_tls = free_ports(2)
    env["PROJECT_ENDPOINT"] = f"https://127.0.0.1:{agents}/api/projects/default"
    env["STORAGE_CONNECTION__queueServiceUri"] = f"https://127.0.0.1:{queues_tls}/devstoreaccount1"
    ports = ["--queue-port", "0", "--http-port", "0", "--identity-port", "0"]
    ports += ["--agents-port", str(agents), "--queue-tls-port", str(queues_tls)]
    log = tmp_path / "ferry-start.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [*start.split(), *ports],
            cwd=app,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        instance = wait_for_instance(app / ".ferry", process, log)
        method, url, headers, body = read_http_file(app / "test.http")
        url = url.replace("http://127.0.0.1:7071", instance.services["functions"])
        answer = httpx.request(method, url, headers=headers, content=body, timeout=120)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(60)
    printed = log.read_text()
    assert answer.status_code == 200, f"{answer.status_code} {answer.text}\n{printed}"
    assert "74 degrees" in answer.json()["Answer"], printed
    # The scaffold's pins chose the client of its API, whatever the newest release is.
    assert re.search(rf"^installed .*{re.escape(client)}", printed, re.MULTILINE), printed
    assert "alembic" not in printed and "Traceback" not in printed, printed
    assert process.returncode == 0, printed


def read_http_file(path: Path) -> tuple[str, str, dict[str, str], bytes]:
    """The one request of a `.http` file: method and URL, headers, a blank line, the body."""
    lines = [line for line in path.read_text().splitlines() if not line.startswith("#")]
    method, url = lines[0].split()[:2]
    blank = lines.index("", 1)
    headers = dict(line.split(": ", 1) for line in lines[1:blank])
    return method, url, headers, "\n".join(lines[blank + 1 :]).strip().encode()
