"""`ferry demo` (what `make demo` runs): the seed's scenario end to end, told as it happens,
on the embedded model (no model server is configured in its environment), offline: with the
dev extra, Ferry's environment already has the app's requirements, so pip installs nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_the_demo_tells_the_whole_round_trip_and_ends_cleanly(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ferry", "demo"],
        capture_output=True,
        text=True,
        timeout=120,
        env={
            "COLUMNS": "200",
            "PATH": "/usr/bin:/bin",
            "NO_COLOR": "1",
            # Where the app's environment is kept between demos: here, a fresh one.
            "XDG_CACHE_HOME": str(tmp_path),
            # Offline: Ferry's environment (with the dev extra) has what the app needs.
            "PIP_NO_INDEX": "1",
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    steps = [
        "wrote the seed's app",
        "requirements.txt: nothing to install, Ferry's environment has it all",
        "model * → embedded SmolLM2-135M-Instruct",
        "agent created",
        "queued",
        "tool call put on input (correlation_id=",
        "answered on output (correlation_id=",
        "run completed",
        "Weather is 74 degrees and sunny in Seattle, WA",
        "ferry stopped cleanly (exit 0)",
    ]
    positions = [out.find(step) for step in steps]
    assert all(p >= 0 for p in positions), out
    assert positions == sorted(positions), out
    assert len(list((tmp_path / "ferry" / "python").glob("*/.ready"))) == 1
