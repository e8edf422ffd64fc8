"""Real kernels in real sandboxes: `open_sessions` makes `CodeSessions` and closes them.

A mode that cannot run here (no bubblewrap) skips its tests on a laptop and fails them with
CI=true, where the sandbox is part of what is being tested.
"""

from __future__ import annotations

import ast
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from ferry.tools.code.sandbox import Limits, Sandbox, SandboxMode, probe
from ferry.tools.code.sessions import CodeSessions, Execution

IN_CI = os.environ.get("CI", "").lower() == "true"
MODES = [SandboxMode.BWRAP, SandboxMode.UNSAFE]
# Short enough for hostile programs to be stopped quickly, long enough for a cold import.
TEST_LIMITS = Limits(wall_seconds=30)

OpenSessions = Callable[..., CodeSessions]


def require(mode: SandboxMode) -> Sandbox:
    """The sandbox for `mode`, or skip (fail in CI) with the probe's reason."""
    sandbox = probe(mode)
    if sandbox.effective is None:
        if IN_CI:
            pytest.fail(f"code sandbox {mode} unavailable: {sandbox.reason}")
        pytest.skip(f"code sandbox {mode} unavailable: {sandbox.reason}")
    return sandbox


@pytest.fixture
async def open_sessions(tmp_path: Path) -> AsyncIterator[OpenSessions]:
    made: list[CodeSessions] = []

    def make(
        mode: SandboxMode = SandboxMode.BWRAP,
        *,
        limits: Limits = TEST_LIMITS,
        idle_seconds: float = 3600.0,
    ) -> CodeSessions:
        sessions = CodeSessions(
            tmp_path / f"sessions-{len(made)}",
            require(mode),
            limits,
            idle_seconds=idle_seconds,
        )
        made.append(sessions)
        return sessions

    yield make
    for sessions in made:
        await sessions.aclose()


@pytest.fixture(params=MODES, ids=str)
def mode(request: pytest.FixtureRequest) -> SandboxMode:
    return SandboxMode(request.param)


@pytest.fixture
def sessions(open_sessions: OpenSessions, mode: SandboxMode) -> CodeSessions:
    return open_sessions(mode)


async def run(sessions: CodeSessions, key: str, code: str, **kw: Any) -> Execution:
    """Execute and insist it worked."""
    done = await sessions.execute(key, code, **kw)
    assert done.error is None, done.logs
    return done


def value(done: Execution) -> Any:
    """The Python value of the call's result (its repr)."""
    assert done.result is not None, (done.error, done.logs)
    return ast.literal_eval(done.result)
