"""Packaging an app folder as `func azure functionapp publish` does: its files as a zip.

What is left out: what `.funcignore` names (gitignore syntax), and always version control,
virtual environments, caches, Ferry's data folder and `local.settings.json` (whose Values
become the deployment's app settings instead, as azd's provisioning would set them).
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pathspec

from ferry.deploy.errors import PackageError
from ferry.functions.appsettings import read_local_settings
from ferry.functions.errors import HostConfigError

__all__ = ["Package", "build_package", "collect_files"]

ALWAYS_LEFT_OUT_PATTERNS = [
    ".git/",
    ".venv/",
    "venv/",
    ".python_packages/",
    "__pycache__/",
    "*.pyc",
    ".ferry/",
    ".funcignore",
    "local.settings.json",
]
ALWAYS_LEFT_OUT = pathspec.GitIgnoreSpec.from_lines(ALWAYS_LEFT_OUT_PATTERNS)


@dataclass(frozen=True)
class Package:
    zip: Path
    app: Path
    files: int
    bytes: int
    sha256: str
    app_settings: dict[str, str]


def collect_files(source: Path) -> list[str]:
    """The app's files to deploy, as sorted relative POSIX paths."""
    if not (source / "function_app.py").is_file():
        raise PackageError(
            f"{source} has no function_app.py: `ferry up` deploys a Python v2 function app "
            "(`ferry init` writes one)"
        )
    ignore = ALWAYS_LEFT_OUT
    funcignore = source / ".funcignore"
    if funcignore.is_file():
        try:
            lines = funcignore.read_text().splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise PackageError(f"cannot read {funcignore}: {exc}") from None
        ignore = pathspec.GitIgnoreSpec.from_lines([*ALWAYS_LEFT_OUT_PATTERNS, *lines])
    found: list[str] = []
    for folder, subfolders, files in os.walk(source):
        relative = Path(folder).relative_to(source)
        # Do not descend into ignored folders (a .venv can hold tens of thousands of files).
        subfolders[:] = sorted(
            name
            for name in subfolders
            if not ignore.match_file(f"{(relative / name).as_posix()}/")
            and not (Path(folder) / name).is_symlink()
        )
        for name in files:
            path = (relative / name).as_posix()
            if not ignore.match_file(path):
                found.append(path)
    return sorted(found)


def build_package(source: Path, target: Path) -> Package:
    """Write `<target>/package.zip` and unpack it into `<target>/app`; nothing is shared with
    the source folder, so later edits there do not touch the deployment."""
    source = source.resolve()
    files = collect_files(source)
    try:
        app_settings = read_local_settings(source)
    except HostConfigError as exc:
        raise PackageError(str(exc)) from None
    target.mkdir(parents=True, exist_ok=False)
    archive = target / "package.zip"
    app = target / "app"
    total = 0
    try:
        with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as package:
            for name in files:
                data = (source / name).read_bytes()
                total += len(data)
                entry = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
                entry.compress_type = zipfile.ZIP_DEFLATED
                entry.external_attr = 0o644 << 16
                package.writestr(entry, data)
        with zipfile.ZipFile(archive) as package:
            package.extractall(app)
    except OSError as exc:
        raise PackageError(f"cannot package {source}: {exc}") from None
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    return Package(archive, app, len(files), total, digest, app_settings)
