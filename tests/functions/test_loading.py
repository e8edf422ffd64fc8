"""Indexing: clear errors and a non-zero exit, never "0 functions found" in silence."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.functions.conftest import APPS

pytestmark = pytest.mark.timeout(60)


def run_start(folder: Path, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "ferry",
            "start",
            "--app",
            str(folder),
            "--data",
            str(tmp_path / "data"),
            "--queue-port",
            "0",
            "--http-port",
            "0",
            "--agents-port",
            "0",
            "--queue-tls-port",
            "0",
            "--identity-port",
            "0",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_binding_that_names_no_parameter(tmp_path: Path) -> None:
    result = run_start(APPS / "broken_binding", tmp_path)
    assert result.returncode == 1
    assert "function 'mismatched'" in result.stderr
    assert "function_app.py:6" in result.stderr  # the decorated def
    assert "['msg']" in result.stderr and "no binding" in result.stderr


def test_decorator_error_names_file_and_line(tmp_path: Path) -> None:
    result = run_start(APPS / "broken_import", tmp_path)
    assert result.returncode == 1
    assert "function_app.py:11" in result.stderr
    assert "sideways" in result.stderr


def test_missing_app_and_empty_app(tmp_path: Path) -> None:
    result = run_start(tmp_path, tmp_path)
    assert result.returncode == 1
    assert "function_app.py not found" in result.stderr
    (tmp_path / "function_app.py").write_text("import azure.functions as func\n")
    result = run_start(tmp_path, tmp_path)
    assert result.returncode == 1
    assert "no FunctionApp found" in result.stderr


def test_syntax_error(tmp_path: Path) -> None:
    (tmp_path / "function_app.py").write_text("import azure.functions as func\napp = (\n")
    result = run_start(tmp_path, tmp_path)
    assert result.returncode == 1
    assert "SyntaxError" in result.stderr and "function_app.py:2" in result.stderr


def test_unset_connection_setting_stops_start(tmp_path: Path) -> None:
    shutil.copytree(APPS / "noneapp", tmp_path / "app")
    result = run_start(tmp_path / "app", tmp_path)
    assert result.returncode == 1
    assert "connection 'Store' is not configured" in result.stderr


def test_unsupported_binding_is_named(tmp_path: Path) -> None:
    (tmp_path / "function_app.py").write_text(
        "import azure.functions as func\n"
        "app = func.FunctionApp()\n"
        "@app.blob_trigger(arg_name='b', path='c/{name}', connection='X')\n"
        "def on_blob(b: func.InputStream) -> None:\n"
        "    pass\n"
    )
    result = run_start(tmp_path, tmp_path)
    assert result.returncode == 1
    assert "function 'on_blob'" in result.stderr and "blobTrigger" in result.stderr


def test_bad_host_json(tmp_path: Path) -> None:
    shutil.copytree(APPS / "queueapp", tmp_path / "app")
    (tmp_path / "app" / "host.json").write_text('{"extensions": {"queues": {"batchSize": 64}}}')
    result = run_start(tmp_path / "app", tmp_path)
    assert result.returncode == 1
    assert "batchSize" in result.stderr
