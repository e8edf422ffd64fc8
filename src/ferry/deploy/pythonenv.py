"""A Python environment of the app's own, for its requirements.txt.

The environment is a virtual environment layered over Ferry's: its own site-packages come
first, then Ferry's (added by a `.pth` file). pip, run for it, finds what Ferry already has
(azure-functions, azure-storage-queue…) and installs only what is missing or pinned to
another version, so a redeploy with the same requirements takes no install at all, and an app
that pins a library gets its pin. Environments are keyed by the requirements' contents and
shared by the deployments that have the same ones.
"""

from __future__ import annotations

import hashlib
import importlib.util
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

from ferry import __version__
from ferry.deploy.errors import RequirementsError

__all__ = ["environment_key", "ensure_environment", "environment_python"]

READY = ".ready"


def environment_key(app: Path) -> str:
    """What decides an environment: the requirements, this Python and this Ferry."""
    requirements = app / "requirements.txt"
    digest = hashlib.sha256()
    digest.update(f"{sys.version}\0{__version__}\0".encode())
    if requirements.is_file():
        digest.update(requirements.read_bytes())
    return digest.hexdigest()[:16]


def environment_python(folder: Path) -> Path:
    return folder / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def ensure_environment(folder: Path, app: Path, log: Path) -> Path:
    """The environment's Python, made and filled first if it is not ready yet."""
    python = environment_python(folder)
    if (folder / READY).exists():
        return python
    if importlib.util.find_spec("pip") is None:
        raise RequirementsError(
            "installing an app's requirements needs pip in Ferry's own Python environment"
        )
    venv.EnvBuilder(with_pip=False, symlinks=sys.platform != "win32", clear=True).create(folder)
    site_packages = Path(
        sysconfig.get_path("purelib", vars={"base": str(folder), "platbase": str(folder)})
    )
    ferry_sites = dict.fromkeys([sysconfig.get_path("purelib"), sysconfig.get_path("platlib")])
    # `import` lines of a .pth run at start-up; addsitedir also reads the .pth files of Ferry's
    # site-packages, which an editable install of Ferry needs.
    lines = [f"import site; site.addsitedir({path!r})" for path in ferry_sites]
    (site_packages / "ferry-base.pth").write_text("\n".join(lines) + "\n")
    requirements = app / "requirements.txt"
    if requirements.is_file() and requirements.read_text().strip():
        command = [sys.executable, "-m", "pip", "--python", str(python), "install"]
        command += ["--disable-pip-version-check", "--no-input", "-r", str(requirements)]
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as output:
            output.write(f"$ {' '.join(command)}\n".encode())
            output.flush()
            finished = subprocess.run(
                command, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        if finished.returncode != 0:
            tail = log.read_text(errors="replace").strip().splitlines()[-3:]
            raise RequirementsError(
                "pip could not install the app's requirements.txt: "
                + " / ".join(line.strip() for line in tail)
                + f" (whole output in {log})"
            )
    (folder / READY).touch()
    return python
