"""An app's environment: keyed by its requirements, made once even when two processes ask
at the same time, and known as an app environment by the Python running in it (where
`ferry functions` under `ferry up`'s supervisor layers nothing more)."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

from ferry.deploy.pythonenv import (
    Installed,
    ensure_environment,
    environment_key,
    environment_ready,
    in_app_environment,
    site_packages,
    use_environment,
)


def app_with(folder: Path, requirements: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "requirements.txt").write_text(requirements)
    return folder


def test_the_key_follows_the_requirements(tmp_path: Path) -> None:
    one = environment_key(app_with(tmp_path / "one", "azure-functions\n"))
    same = environment_key(app_with(tmp_path / "same", "azure-functions\n"))
    other = environment_key(app_with(tmp_path / "other", "azure-functions\nhttpx\n"))
    assert one == same != other


def test_two_makers_at_once_make_it_once(tmp_path: Path) -> None:
    app = app_with(tmp_path / "app", "azure-functions\n")
    folder = tmp_path / "envs" / environment_key(app)
    results: list[Installed] = []

    def make() -> None:
        results.append(ensure_environment(folder, app, folder.parent / "pip.log"))

    makers = [threading.Thread(target=make) for _ in range(2)]
    for maker in makers:
        maker.start()
    for maker in makers:
        maker.join(120)
    assert sorted(r.pip_ran for r in results) == [False, True]
    assert all(r.packages == () for r in results)  # Ferry's environment has azure-functions
    assert environment_ready(folder)


def test_the_environment_knows_itself_and_comes_first(tmp_path: Path) -> None:
    app = app_with(tmp_path / "app", "azure-functions\n")
    folder = tmp_path / "env"
    made = ensure_environment(folder, app, tmp_path / "pip.log")
    probe = "from ferry.deploy.pythonenv import in_app_environment as i; print(i())"
    inside = subprocess.run([made.python, "-c", probe], capture_output=True, text=True, check=True)
    assert inside.stdout.strip() == "True"
    assert not in_app_environment()

    before = list(sys.path)
    try:
        use_environment(folder)
        assert sys.path[0] == str(site_packages(folder))
        assert sys.path[1:] == before  # Ferry's own site-packages are not added twice
    finally:
        sys.path[:] = before
