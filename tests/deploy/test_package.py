"""Packaging and naming, the pure parts of `ferry up`."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from ferry.deploy.errors import DeployError, PackageError
from ferry.deploy.layout import environment_name
from ferry.deploy.lifecycle import parse_settings
from ferry.deploy.package import build_package, collect_files


def _app(folder: Path) -> Path:
    files = {
        "function_app.py": "import azure.functions\n",
        "requirements.txt": "azure-functions\n",
        "host.json": "{}",
        "local.settings.json": '{"Values": {"A": "1", "FLAG": true}}',
        "lib/helper.py": "X = 1\n",
        "lib/__pycache__/helper.cpython-311.pyc": "",
        ".venv/lib/site.py": "",
        ".git/HEAD": "",
        ".ferry/ferry.db": "",
        "notes/draft.md": "",
        "secret.env": "",
    }
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


def test_what_a_package_holds(tmp_path: Path) -> None:
    app = _app(tmp_path / "app")
    (app / ".funcignore").write_text("notes/\n*.env\n")
    assert collect_files(app) == [
        "function_app.py",
        "host.json",
        "lib/helper.py",
        "requirements.txt",
    ]


def test_the_package_is_a_zip_unpacked_beside_it(tmp_path: Path) -> None:
    app = _app(tmp_path / "app")
    package = build_package(app, tmp_path / "deployments" / "1")
    with zipfile.ZipFile(package.zip) as archive:
        names = sorted(archive.namelist())
    assert "local.settings.json" not in names and "secret.env" in names
    assert (package.app / "lib" / "helper.py").read_text() == "X = 1\n"
    assert package.app_settings == {"A": "1", "FLAG": "true"}
    assert package.files == len(names)
    again = build_package(app, tmp_path / "deployments" / "2")
    assert again.sha256 == package.sha256  # the same files make the same package


def test_a_folder_without_an_app_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PackageError, match="no function_app.py"):
        collect_files(tmp_path)


def test_unreadable_settings_are_refused(tmp_path: Path) -> None:
    app = _app(tmp_path / "app")
    (app / "local.settings.json").write_text('{"Values": {"A": {"nested": 1}}}')
    with pytest.raises(PackageError, match="Values.A"):
        build_package(app, tmp_path / "out")


@pytest.mark.parametrize(
    ("folder", "name"),
    [("weather-app", "weather-app"), ("My App_2", "my-app-2"), ("___", "app")],
)
def test_environment_names_come_from_the_folder(tmp_path: Path, folder: str, name: str) -> None:
    assert environment_name(None, tmp_path / folder) == name


@pytest.mark.parametrize("bad", ["", "UPPER", "-lead", "a" * 64, "dot.ted", "../up"])
def test_bad_environment_names_are_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(DeployError, match="environment name"):
        environment_name(bad, tmp_path)


def test_settings_pairs() -> None:
    assert parse_settings(["A=1", "B=x=y", "C="]) == {"A": "1", "B": "x=y", "C": ""}
    with pytest.raises(DeployError):
        parse_settings(["=1"])
