"""`ferry dashboard`: the address of the running instance's dashboard, and whether it asks
for a token, found by asking the dashboard itself."""

from __future__ import annotations

import json
from pathlib import Path

from tests.agents.conftest import Ferry
from tests.cli.test_token import ferry


def test_it_names_an_open_dashboard(weather_ferry: Ferry, tmp_path: Path) -> None:
    shown = ferry("dashboard", "--data", str(weather_ferry.data), "--json", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout) == {
        "url": f"{weather_ferry.agents_url}/dashboard/",
        "login_required": False,
    }
    told = ferry("dashboard", "--data", str(weather_ferry.data), "--no-browser", cwd=tmp_path)
    assert told.returncode == 0, told.stderr
    assert f"{weather_ferry.agents_url}/dashboard/" in told.stdout
    assert "ferry token" not in told.stdout


def test_it_says_a_guarded_dashboard_wants_a_token(guarded_ferry: Ferry, tmp_path: Path) -> None:
    shown = ferry("dashboard", "--data", str(guarded_ferry.data), "--json", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["login_required"] is True
    told = ferry("dashboard", "--data", str(guarded_ferry.data), "--no-browser", cwd=tmp_path)
    assert "`ferry token` prints one" in told.stdout


def test_without_a_running_instance_it_says_so(tmp_path: Path) -> None:
    result = ferry("dashboard", "--data", str(tmp_path / "none"), "--json", cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and result.stderr.strip()
