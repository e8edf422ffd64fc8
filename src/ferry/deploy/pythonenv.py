"""A Python environment of the app's own, for its requirements.txt.

The environment is a virtual environment layered over Ferry's: its own site-packages come
first, then Ferry's (added by a `.pth` file). pip, run for it, finds what Ferry already has
(azure-functions, azure-storage-queue…) and installs only what is missing or pinned to
another version, so a start or a redeploy with the same requirements takes no install at all,
and an app that pins a library gets its pin. Environments are keyed by the requirements'
contents and by Ferry's own environment, and shared by the apps that have the same ones.

`ferry up` runs the app's host with the environment's Python; `ferry start` and
`ferry functions` host the app in Ferry's own process, with the environment's site-packages
put first on `sys.path` (`use_environment`).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib
import importlib.util
import os
import re
import site
import subprocess
import sys
import sysconfig
import venv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ferry import __version__
from ferry.deploy.errors import RequirementsError

__all__ = [
    "Installed",
    "environment_key",
    "environment_python",
    "environment_ready",
    "ensure_environment",
    "has_requirements",
    "in_app_environment",
    "site_packages",
    "use_environment",
]

READY = ".ready"
BASE_PTH = "ferry-base.pth"
_INSTALLED_SUFFIXES = (".dist-info", ".egg-info", ".pth")
"""What names the distributions in a site folder (name and version) and its path hooks."""


@dataclass(frozen=True)
class Installed:
    """What `ensure_environment` did."""

    python: Path
    pip_ran: bool
    """False when the environment was ready already (nothing to do)."""
    packages: tuple[str, ...] = ()
    """What pip installed, as `name-version` (empty: Ferry's environment had it all)."""


def _ferry_sites() -> list[str]:
    return list(dict.fromkeys([sysconfig.get_path("purelib"), sysconfig.get_path("platlib")]))


def has_requirements(app: Path) -> bool:
    """Whether the app has a requirements.txt with anything in it."""
    requirements = app / "requirements.txt"
    return requirements.is_file() and bool(requirements.read_text(errors="replace").strip())


def environment_key(app: Path) -> str:
    """What decides an environment: the requirements, this Python, this Ferry and what its
    environment holds (an environment is layered over that one, so it is only valid there)."""
    requirements = app / "requirements.txt"
    digest = hashlib.sha256()
    digest.update(f"{sys.version}\0{__version__}\0{sys.prefix}\0".encode())
    for folder in _ferry_sites():
        with contextlib.suppress(OSError):
            installed = [n for n in os.listdir(folder) if n.endswith(_INSTALLED_SUFFIXES)]
            digest.update("\0".join(sorted(installed)).encode())
    if requirements.is_file():
        digest.update(requirements.read_bytes())
    return digest.hexdigest()[:16]


def environment_python(folder: Path) -> Path:
    return folder / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def site_packages(folder: Path) -> Path:
    return Path(sysconfig.get_path("purelib", vars={"base": str(folder), "platbase": str(folder)}))


def environment_ready(folder: Path) -> bool:
    return (folder / READY).exists()


def in_app_environment() -> bool:
    """Whether this Python is an app environment Ferry made (how `ferry up` runs an app's
    host): its requirements are installed already, and no environment is layered on it."""
    prefix = Path(sys.prefix)
    made = environment_ready(prefix) and (site_packages(prefix) / BASE_PTH).is_file()
    return sys.prefix != sys.base_prefix and made


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """One maker per environment at a time (two `ferry start`s, or a demo and a test)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f"{folder.name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def ensure_environment(folder: Path, app: Path, log: Path) -> Installed:
    """The environment made and filled, unless it is ready already. pip runs in the app's
    folder, as `pip install -r requirements.txt` would there, and writes to `log`."""
    python = environment_python(folder)
    if environment_ready(folder):
        return Installed(python, pip_ran=False)
    if importlib.util.find_spec("pip") is None:
        raise RequirementsError(
            "installing an app's requirements needs pip in Ferry's own Python environment"
        )
    with _locked(folder):
        if environment_ready(folder):  # made by another process while this one waited
            return Installed(python, pip_ran=False)
        venv.EnvBuilder(with_pip=False, symlinks=sys.platform != "win32", clear=True).create(folder)
        # `import` lines of a .pth run at start-up; addsitedir also reads the .pth files of
        # Ferry's site-packages, which an editable install of Ferry needs.
        lines = [f"import site; site.addsitedir({path!r})" for path in _ferry_sites()]
        (site_packages(folder) / BASE_PTH).write_text("\n".join(lines) + "\n")
        packages: tuple[str, ...] = ()
        pip_ran = has_requirements(app)
        if pip_ran:
            packages = _pip_install(python, app, log)
        (folder / READY).touch()
    return Installed(python, pip_ran, packages)


def _pip_install(python: Path, app: Path, log: Path) -> tuple[str, ...]:
    command = [sys.executable, "-m", "pip", "--python", str(python), "install"]
    command += ["--disable-pip-version-check", "--no-input", "-r", "requirements.txt"]
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as output:
        start = output.tell()
        output.write(f"$ cd {app} && {' '.join(command)}\n".encode())
        output.flush()
        finished = subprocess.run(
            command, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=app
        )
    with open(log, "rb") as written:
        written.seek(start)
        said = written.read().decode(errors="replace")
    if finished.returncode != 0:
        lines = [line.strip() for line in said.strip().splitlines()]
        reasons = [line for line in lines if line.startswith("ERROR:")][:2] or lines[-3:]
        raise RequirementsError(
            f"pip could not install {app / 'requirements.txt'}: "
            + " / ".join(reasons)
            + f" (whole output in {log})"
        )
    found = re.findall(r"^Successfully installed (.+)$", said, flags=re.MULTILINE)
    return tuple(name for line in found for name in line.split())


def use_environment(folder: Path) -> None:
    """Put the environment's site-packages first on this process's `sys.path` (and run its
    `.pth` files, as Python does for a site folder), so the app imports what was installed
    for it. What this process imported already stays as it was."""
    sites = str(site_packages(folder))
    if sites in sys.path:
        return
    sys.path.insert(0, sites)
    known = {os.path.normcase(os.path.abspath(entry)) for entry in sys.path if entry}
    for pth in sorted(Path(sites).glob("*.pth")):
        if pth.name != BASE_PTH:  # Ferry's own site-packages are on sys.path already
            site.addpackage(sites, pth.name, known)
    importlib.invalidate_caches()
