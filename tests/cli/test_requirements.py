"""`ferry start` installs the app's requirements.txt into an environment of the app's own,
says so, and loads the app with it; a second start installs nothing; a pip failure is one
line and exit code 1. All offline: the requirement is a wheel in the app's folder."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import httpx

from ferry.spawn import spawn

FUNCTION_APP = """
import azure.functions as func
import ferry_probe

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="probe")
def probe(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(f"{ferry_probe.__version__} {ferry_probe.__file__}")
"""


def make_wheel(folder: Path, name: str = "ferry_probe", version: str = "1.0") -> Path:
    """A pure-Python wheel, written by hand: pip installs it with no index and no build."""
    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f'__version__ = "{version}"\n',
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: ferry-tests\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    files[f"{dist}/RECORD"] = "\n".join([*record, f"{dist}/RECORD,,"]) + "\n"
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


def make_app(folder: Path, requirements: str, probe: str = "ferry_probe") -> Path:
    """An app whose `/api/probe` says the version and file of the module `probe`."""
    folder.mkdir(parents=True)
    code = FUNCTION_APP.replace("import ferry_probe", f"import {probe} as ferry_probe")
    (folder / "function_app.py").write_text(code)
    (folder / "host.json").write_text(json.dumps({"version": "2.0"}))
    (folder / "requirements.txt").write_text(requirements)
    return folder


def start(app: Path, data: Path) -> tuple[str, float, str]:
    """`ferry start` on free ports until it listens: the probe's answer, the seconds it took
    to listen, and what it printed."""
    began = time.monotonic()
    args = ["start", "--app", str(app), "--queue-port", "0", "--http-port", "0"]
    args += ["--agents-port", "0", "--queue-tls-port", "0", "--identity-port", "0"]
    log = data.parent / f"{data.name}-{time.monotonic_ns()}.log"
    child = spawn(args, data, timeout=120, log=log)
    took = time.monotonic() - began
    try:
        answer = httpx.get(f"{child.url('functions')}/api/probe", timeout=30)
        assert answer.status_code == 200, answer.text
    finally:
        child.stop()
    return answer.text, took, log.read_text()


def test_the_apps_requirements_are_installed_for_it_and_only_once(tmp_path: Path) -> None:
    # Given an app whose requirement Ferry's environment lacks, named by a path relative to
    # the app's folder (as `pip install -r requirements.txt` there would read it)
    app = make_app(tmp_path / "app", "azure-functions\n./wheels/ferry_probe-1.0-py3-none-any.whl\n")
    make_wheel(app / "wheels")
    # A data folder with a long path: output that is not a terminal must not wrap it.
    data = tmp_path / ("a-data-folder-with-a-rather-long-name-" * 3) / ".ferry"

    answer, _, printed = start(app, data)

    # Then the app imported it from its own environment, under the data folder
    (environment,) = [path for path in (data / "python").iterdir() if path.is_dir()]
    assert answer.startswith("1.0 ") and answer.split(" ", 1)[1].startswith(str(environment))
    lines = printed.splitlines()
    said = next(line for line in lines if line.startswith("installed "))
    assert said.startswith(f"installed ferry-probe-1.0 into {environment} (")
    assert said.endswith(f"pip's log: {environment / 'pip.log'})")  # one line, not wrapped
    assert "alembic" not in printed and "Traceback" not in printed

    # When it starts again with the same requirements, nothing is installed
    answer, took, printed = start(app, data)
    assert answer.startswith("1.0 ")
    assert f"requirements.txt installed already, in {environment}" in printed
    assert "installed ferry-probe" not in printed
    assert took < 20


def test_requirements_ferry_has_already_install_nothing(tmp_path: Path) -> None:
    requirements = "azure-functions\nazure-storage-queue\n"
    app = make_app(tmp_path / "app", requirements, probe="azure.storage.queue")
    answer, _, printed = start(app, tmp_path / "data")
    assert "requirements.txt: nothing to install, Ferry's environment has it all" in printed
    assert "/data/python/" not in answer  # Ferry's own azure-storage-queue


def test_a_pin_of_a_library_the_host_runs_on_does_not_win_in_process(tmp_path: Path) -> None:
    # The documented limit (docs/functions.md): Ferry loaded aiohttp before the app's
    # environment came first, so the app gets Ferry's, though pip installed the pin.
    app = make_app(tmp_path / "app", "./aiohttp-0.0.1-py3-none-any.whl\n", probe="aiohttp")
    make_wheel(app, name="aiohttp", version="0.0.1")
    answer, _, printed = start(app, tmp_path / "data")
    assert "installed aiohttp-0.0.1 into" in printed
    assert not answer.startswith("0.0.1 ") and "/data/python/" not in answer


def test_a_pip_failure_stops_ferry_start_with_one_line(tmp_path: Path) -> None:
    app = make_app(tmp_path / "app", "./no-such-project\n")
    failed = subprocess.run(
        [sys.executable, "-m", "ferry", "start", "--app", str(app), "--data", str(tmp_path / "d")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert failed.stderr.startswith("error: pip could not install ")
    assert "no-such-project" in failed.stderr and "pip.log" in failed.stderr
    assert failed.stderr.strip().count("\n") == 0 and "Traceback" not in failed.stderr
