"""Hostile programs against the sandbox, in bwrap and in unsafe mode.

Each one must fail inside the session while this process (Ferry) carries on and the next call
works. Unsafe mode is run too, to keep its table honest: where it does not protect, the test
asserts that it does not.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ferry.errors import ConfigError
from ferry.tools.code.sandbox import (
    Limits,
    SandboxMode,
    parse_mode,
    probe,
    running_processes,
    task_count,
)
from ferry.tools.code.sessions import CodeSessions
from ferry.tools.errors import CodeUnavailable, InvalidInput
from tests.tools.code.conftest import OpenSessions, require, run, value

ROOT = os.geteuid() == 0
BLOCKED = ("FileNotFoundError", "PermissionError")

# --- modes and probing -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "mode"),
    [
        ("auto", SandboxMode.AUTO),
        (" BWRAP ", SandboxMode.BWRAP),
        ("unsafe", SandboxMode.UNSAFE),
        ("off", SandboxMode.OFF),
        ("", SandboxMode.AUTO),
    ],
)
def test_parse_mode(text: str, mode: SandboxMode) -> None:
    assert parse_mode(text) is mode


def test_parse_mode_rejects_unknown_values() -> None:
    with pytest.raises(ConfigError, match="FERRY_CODE_SANDBOX must be one of auto, bwrap"):
        parse_mode("docker")


def test_probe_says_what_runs_code() -> None:
    bwrap = require(SandboxMode.BWRAP)
    assert bwrap.effective == "bwrap"
    assert bwrap.reason.startswith("bubblewrap ") and "no network" in bwrap.reason
    assert probe(SandboxMode.AUTO).effective == "bwrap"
    assert probe(SandboxMode.BWRAP) is bwrap  # cached
    assert probe(SandboxMode.UNSAFE).effective == "unsafe"
    off = probe(SandboxMode.OFF)
    assert off.effective is None and "turned off" in off.reason


async def test_code_is_refused_without_a_sandbox(tmp_path: Path) -> None:
    sessions = CodeSessions(tmp_path, probe(SandboxMode.OFF))
    assert not sessions.available
    with pytest.raises(CodeUnavailable, match="turned off"):
        await sessions.execute("t", "1 + 1")
    await sessions.aclose()


# --- 1. files outside the session folder -----------------------------------------------------

READ_ALL = """
import sys
found = {}
for path in PATHS:
    try:
        with open(path, 'rb') as f:
            f.read(1)
        found[path] = 'read'
    except OSError as e:
        found[path] = type(e).__name__
try:
    open(sys.prefix + '/ferry-was-here', 'w').close()
    found['write'] = 'written'
except OSError as e:
    found['write'] = type(e).__name__
found
"""


def _readable(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            f.read(1)
    except OSError:
        return False
    return True


def _a_file_in_root() -> str | None:
    """A file of root's home that is no part of the Python the sandbox binds."""
    try:
        return next(str(p) for p in sorted(Path("/root").iterdir()) if p.is_file())
    except (OSError, StopIteration):
        return None


async def test_files_outside_the_folder(
    sessions: CodeSessions, mode: SandboxMode, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"  # beside the sessions' root, not in it
    secret.write_text("s3cret")
    paths = [str(secret), "/etc/shadow"]
    if (home_file := _a_file_in_root()) is not None:
        paths.append(home_file)
    found = value(await run(sessions, "t", f"PATHS = {paths!r}\n{READ_ALL}"))
    if mode is SandboxMode.BWRAP:
        assert all(found[p] in BLOCKED for p in paths), found
        assert found["write"] in ("OSError", "PermissionError"), found  # read-only
    else:
        # Unsafe: whatever Ferry's own user can read, the program can read too.
        assert {p: found[p] == "read" for p in paths} == {p: _readable(p) for p in paths}
        assert found[str(secret)] == "read"
        if ROOT:
            assert found["write"] == "PermissionError"  # the session's own uid
    assert not (Path(sys.prefix) / "ferry-was-here").exists()
    assert (await run(sessions, "t", "1 + 1")).result == "2"


async def test_symlinks_out_of_the_folder_are_not_followed_by_ferry(
    sessions: CodeSessions, tmp_path: Path
) -> None:
    """A link the program leaves in its folder must not make Ferry (root, outside the
    sandbox) read or overwrite the file it points to."""
    secret = tmp_path / "secret.txt"
    secret.write_text("s3cret")
    done = await run(
        sessions,
        "t",
        f"import os\nos.symlink({str(secret)!r}, 'leak.txt')\n"
        f"os.symlink({str(secret)!r}, 'data.csv')\nos.symlink('/etc', 'etc')",
    )
    assert done.files == []
    code = "import os; os.path.islink('data.csv')"
    done = await run(sessions, "t", code, inputs={"data.csv": b"x"})
    assert done.result == "False"
    assert secret.read_text() == "s3cret"
    with pytest.raises(InvalidInput):
        await sessions.execute("t", "1", inputs={"../escape.txt": b"x"})


async def test_ferrys_environment_does_not_reach_the_code(
    sessions: CodeSessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FERRY_TEST_SECRET", "api-key")
    env = value(await run(sessions, "t", "import os; dict(os.environ)"))
    assert "FERRY_TEST_SECRET" not in env
    assert env["MPLBACKEND"] == "module://matplotlib_inline.backend_inline"


# --- 2. network -------------------------------------------------------------------------------

CONNECT = """
import socket
try:
    with socket.create_connection(('127.0.0.1', PORT), timeout=5) as s:
        s.sendall(b'hello from the sandbox')
    outcome = 'connected'
except OSError as e:
    outcome = type(e).__name__
outcome, sorted(name for _, name in socket.if_nameindex())
"""


async def test_network(sessions: CodeSessions, mode: SandboxMode) -> None:
    heard: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        heard.append(await reader.read())
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        outcome, interfaces = value(await run(sessions, "t", f"PORT = {port}\n{CONNECT}"))
    finally:
        server.close()
        await server.wait_closed()
    if mode is SandboxMode.BWRAP:
        assert outcome in ("ConnectionRefusedError", "OSError", "TimeoutError")
        assert interfaces == ["lo"]  # a loopback of its own, nothing else
        assert heard == []
    else:
        assert outcome == "connected"  # unsafe: the host's network, loopback included
        assert heard == [b"hello from the sandbox"]


# --- 3. fork bomb -----------------------------------------------------------------------------

FORK_BOMB = """
import os
while True:
    os.fork()
"""

SPAWN = """
import subprocess
children = []
try:
    while True:
        children.append(subprocess.Popen(['sleep', '60']))
except OSError as e:
    error = type(e).__name__
len(children), error
"""


@pytest.mark.slow
async def test_fork_bomb(sessions: CodeSessions) -> None:
    uid = value(await run(sessions, "t", "import os; os.getuid()"))
    spawned, error = value(await run(sessions, "t", SPAWN))
    assert error == "BlockingIOError" and 0 < spawned < sessions.limits.processes

    bomb = await sessions.execute("t", FORK_BOMB, timeout=10)
    assert bomb.error is not None
    assert "BlockingIOError" in bomb.error or "timed out" in bomb.error, bomb.error
    if ROOT:
        assert task_count(uid) <= sessions.limits.processes
    assert subprocess.run(["true"], check=False).returncode == 0  # the host can still fork

    await sessions.close("t")
    if ROOT:
        assert running_processes(uid) == 0  # every process of the session is dead
    again = await run(sessions, "t", "1 + 1")
    assert again.fresh and again.result == "2"


# --- 4. memory --------------------------------------------------------------------------------


@pytest.mark.slow
async def test_memory_hog(sessions: CodeSessions) -> None:
    await run(sessions, "t", "kept = 'still here'")
    hog = await sessions.execute("t", "hog = bytearray(10 * 2**30)")
    assert hog.error is not None
    assert hog.error.startswith("MemoryError") or "lost" in hog.error
    grow = await sessions.execute(
        "t", "hogs = []\nwhile True:\n    hogs.append(bytearray(256 * 2**20))"
    )
    assert grow.error is not None
    assert grow.error.startswith("MemoryError") or "lost" in grow.error
    after = await sessions.execute("t", "del hogs\nkept")
    if after.fresh:
        assert after.error is not None  # a new kernel has no `hogs` to delete
    else:
        assert after.result == "'still here'"
    assert (await run(sessions, "t", "1 + 1")).result == "2"


async def test_crash_loses_the_session_and_the_next_call_starts_afresh(
    sessions: CodeSessions,
) -> None:
    await run(sessions, "t", "x = 1\nopen('kept.txt', 'w').write('files survive')")
    crash = await sessions.execute("t", "import ctypes\nctypes.string_at(0)")
    assert crash.error is not None and "session was lost" in crash.error
    assert "SIGSEGV (it crashed)" in crash.error
    again = await sessions.execute("t", "open('kept.txt').read()")
    assert again.fresh and again.result == "'files survive'"
    gone = await sessions.execute("t", "x")
    assert gone.error == "NameError: name 'x' is not defined"


@pytest.mark.slow
async def test_cpu_time_limit_ends_the_session(
    open_sessions: OpenSessions, mode: SandboxMode
) -> None:
    sessions = open_sessions(mode, limits=Limits(cpu_seconds=3, wall_seconds=30))
    spin = await sessions.execute("t", "while True:\n    pass")
    assert spin.error is not None and "SIGXCPU" in spin.error, spin.error
    again = await run(sessions, "t", "1 + 1")
    assert again.fresh and again.result == "2"


# --- 5. endless loop --------------------------------------------------------------------------


async def test_endless_loop_is_interrupted_and_state_kept(sessions: CodeSessions) -> None:
    await run(sessions, "t", "x = 1")
    loop = await sessions.execute("t", "while True:\n    pass", timeout=1.5)
    assert loop.error == "timed out after 1.5 s (the session was interrupted)"
    assert "KeyboardInterrupt" in loop.logs
    after = await run(sessions, "t", "x")
    assert not after.fresh and after.result == "1"


@pytest.mark.slow
async def test_a_loop_that_ignores_interrupts_ends_the_session(sessions: CodeSessions) -> None:
    await run(sessions, "t", "x = 1")
    stubborn = "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass"
    loop = await sessions.execute("t", stubborn, timeout=1)
    assert loop.error is not None
    assert loop.error.startswith("timed out after 1 s; the session did not stop")
    after = await sessions.execute("t", "x")
    assert after.fresh and after.error == "NameError: name 'x' is not defined"


# --- 6. other sessions ------------------------------------------------------------------------

SNOOP = """
import os
found = {}
for path in PATHS:
    try:
        with open(path) as f:
            found[path] = f.read()
    except OSError as e:
        found[path] = type(e).__name__
found, len([p for p in os.listdir('/proc') if p.isdigit()])
"""


async def test_other_sessions_are_invisible(sessions: CodeSessions, mode: SandboxMode) -> None:
    where = value(
        await run(
            sessions,
            "a",
            "import os\nopen('a-secret.txt', 'w').write('only for a')\n"
            "os.path.abspath('a-secret.txt')",
        )
    )
    (folder_a,) = [p for p in sessions.root.iterdir() if (p / "a-secret.txt").exists()]
    guesses = [where, str(folder_a / "a-secret.txt"), f"../{folder_a.name}/a-secret.txt"]
    found, pids = value(await run(sessions, "b", f"PATHS = {guesses!r}\n{SNOOP}"))
    if mode is SandboxMode.BWRAP:
        assert all(found[p] in BLOCKED for p in guesses), found
        assert pids <= 3  # its own PID namespace: bwrap's init and the kernel
    else:
        # Unsafe: another session's folder is readable by its host path (as root, through
        # CAP_DAC_READ_SEARCH; otherwise as the same user).
        assert found[str(folder_a / "a-secret.txt")] == "only for a"
    assert (await run(sessions, "a", "open('a-secret.txt').read()")).result == "'only for a'"


# --- 7. file size -----------------------------------------------------------------------------

BIG_FILE = """
with open('big.bin', 'wb') as f:
    for _ in range(200):
        f.write(bytes(2**20))
"""

BIG_TMP = """
import os
written = 0
try:
    for i in range(8):
        with open(f'/tmp/fill-{i}', 'wb') as f:
            for _ in range(50):
                f.write(bytes(2**20))
                written += 1
except OSError as e:
    error = e.strerror
for name in os.listdir('/tmp'):
    if name.startswith('fill-'):
        os.remove('/tmp/' + name)
written, error
"""


async def test_file_size_limit(sessions: CodeSessions, mode: SandboxMode) -> None:
    big = await sessions.execute("t", BIG_FILE)
    assert big.error == "OSError: [Errno 27] File too large"
    assert (await run(sessions, "t", "import os; os.path.getsize('big.bin')")).result == str(
        sessions.limits.file_bytes
    )
    assert big.files == []  # above the size Ferry returns
    if mode is SandboxMode.BWRAP:
        # /tmp is memory: it is capped as well.
        written, error = value(await run(sessions, "t", BIG_TMP))
        assert error == "No space left on device"
        assert written * 2**20 <= sessions.limits.tmp_bytes


async def test_limits_are_applied(open_sessions: OpenSessions, mode: SandboxMode) -> None:
    limits = Limits(cpu_seconds=77, memory_bytes=3 << 30, processes=50, open_files=128)
    sessions = open_sessions(mode, limits=limits)
    got = value(
        await run(
            sessions,
            "t",
            "import resource as r\n"
            "[r.getrlimit(x)[0] for x in "
            "(r.RLIMIT_CPU, r.RLIMIT_AS, r.RLIMIT_NPROC, r.RLIMIT_FSIZE, r.RLIMIT_NOFILE)]",
        )
    )
    nproc = got.pop(2)
    assert got == [77, 3 << 30, limits.file_bytes, 128]
    assert nproc == 50 if ROOT else nproc >= 50
