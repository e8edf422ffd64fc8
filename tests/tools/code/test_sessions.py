"""CodeSessions as code_interpreter uses it: state, outputs, files, idle sessions, parallelism.

Run in bubblewrap (the default sandbox) except where a mode-specific path matters.
"""

from __future__ import annotations

import asyncio
import sys
import time
from asyncio.subprocess import PIPE
from pathlib import Path

import pytest

from ferry.tools.code.sandbox import SandboxMode
from ferry.tools.code.sessions import MAX_FILE_BYTES, CodeSessions
from tests.tools.code.conftest import OpenSessions, require, run, value

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def mode() -> SandboxMode:
    """The strongest sandbox; tests needing both modes parametrize `mode` themselves."""
    return SandboxMode.BWRAP


async def test_state_is_kept_between_calls(sessions: CodeSessions) -> None:
    first = await run(sessions, "t", "x = 40\ndef add(a):\n    return a + x")
    assert first.fresh and first.logs == "" and first.result is None
    second = await run(sessions, "t", "add(2)")
    assert not second.fresh
    assert second.result == "42" and second.logs == "42\n"


async def test_logs_have_stdout_stderr_and_the_traceback(sessions: CodeSessions) -> None:
    done = await sessions.execute(
        "t", "import sys\nprint('out')\nprint('err', file=sys.stderr)\n{}['missing']"
    )
    assert done.error == "KeyError: 'missing'"
    assert "out\n" in done.logs and "err\n" in done.logs  # two streams: order may vary
    assert "Traceback" in done.logs and "KeyError" in done.logs
    assert "\x1b[" not in done.logs  # no terminal colours
    assert (await run(sessions, "t", "'fine'")).result == "'fine'"


async def test_a_figure_comes_back_as_png(sessions: CodeSessions) -> None:
    shown = await run(
        sessions,
        "t",
        "import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.title('shown')\nplt.show()",
    )
    assert len(shown.images) == 1 and shown.images[0].startswith(PNG)
    # A figure left open is displayed at the end of the call too, as in a notebook.
    left_open = await run(sessions, "t", "fig, ax = plt.subplots()\nax.bar(['a', 'b'], [1, 2])")
    assert len(left_open.images) == 1 and left_open.images[0].startswith(PNG)
    table = await run(
        sessions, "t", "import pandas as pd\npd.DataFrame({'a': [1, 2]}).a.sum().item()"
    )
    assert table.images == [] and table.result == "3"


async def test_files_written_come_back(sessions: CodeSessions) -> None:
    done = await run(
        sessions,
        "t",
        "import os\nopen('report.csv', 'w').write('a,b\\n1,2\\n')\n"
        "os.makedirs('charts', exist_ok=True)\nopen('charts/c.txt', 'wb').write(b'c')\n"
        "open('.hidden', 'w').write('h')\nopen('huge.bin', 'wb').write(bytes(HUGE))".replace(
            "HUGE", str(MAX_FILE_BYTES + 1)
        ),
    )
    assert done.files == [("charts/c.txt", b"c"), ("report.csv", b"a,b\n1,2\n")]
    unchanged = await run(sessions, "t", "open('report.csv').read()")
    assert unchanged.files == []
    changed = await run(sessions, "t", "open('report.csv', 'a').write('3,4\\n')")
    assert changed.files == [("report.csv", b"a,b\n1,2\n3,4\n")]


@pytest.mark.parametrize("mode", [SandboxMode.BWRAP, SandboxMode.UNSAFE], ids=str)
async def test_inputs_are_placed_in_the_working_folder(
    sessions: CodeSessions, mode: SandboxMode
) -> None:
    where = "/mnt/data/data.csv" if mode is SandboxMode.BWRAP else "data.csv"
    code = f"import os\nos.getcwd(), open({where!r}).read()"
    done = await run(sessions, "t", code, inputs={"data.csv": b"1,2"})
    cwd, text = value(done)
    assert text == "1,2" and done.files == []  # inputs are not outputs
    if mode is SandboxMode.BWRAP:
        assert cwd == "/mnt/data"
    # Changed by the program, the same input is put back; unchanged, it is left alone.
    await run(sessions, "t", "open('data.csv', 'w').write('changed')")
    again = await run(sessions, "t", "open('data.csv').read()", inputs={"data.csv": b"1,2"})
    assert again.result == "'1,2'"
    stamp = await run(sessions, "t", "import os; os.stat('data.csv').st_mtime_ns")
    same = await run(sessions, "t", "os.stat('data.csv').st_mtime_ns", inputs={"data.csv": b"1,2"})
    assert same.result == stamp.result


async def test_sweep_closes_idle_sessions(open_sessions: OpenSessions) -> None:
    sessions = open_sessions(idle_seconds=0.3)
    await run(sessions, "idle", "x = 1\nopen('f.txt', 'w').write('f')")
    await asyncio.sleep(0.5)
    await run(sessions, "busy", "y = 2")
    assert await sessions.sweep() == 1
    assert len(list(sessions.root.iterdir())) == 1  # busy's folder stays
    again = await sessions.execute("idle", "open('f.txt').read()")
    assert again.fresh and again.error is not None  # a new session: folder deleted too
    assert not (await run(sessions, "busy", "y")).fresh


async def test_close_and_aclose_clean_up(open_sessions: OpenSessions) -> None:
    sessions = open_sessions()
    await run(sessions, "a", "open('a.txt', 'w').write('a')")
    await run(sessions, "b", "open('b.txt', 'w').write('b')")
    folders = list(sessions.root.iterdir())
    assert len(folders) == 2
    await sessions.close("a")
    assert len(list(sessions.root.iterdir())) == 1
    await sessions.close("never-used")
    runtime = sessions._runtime
    assert runtime is not None and runtime.exists()
    await sessions.aclose()
    assert list(sessions.root.iterdir()) == []
    assert not runtime.exists()


async def test_sessions_run_in_parallel_and_each_one_in_order(
    sessions: CodeSessions,
) -> None:
    await asyncio.gather(run(sessions, "a", "import time"), run(sessions, "b", "import time"))
    start = time.monotonic()
    a, b = await asyncio.gather(
        run(sessions, "a", "time.sleep(1.5)\n'a'"), run(sessions, "b", "time.sleep(1.5)\n'b'")
    )
    assert (a.result, b.result) == ("'a'", "'b'")
    assert time.monotonic() - start < 2.8  # not one after the other

    # Calls to one session wait for each other: the second sees what the first set.
    first, second = await asyncio.gather(
        run(sessions, "a", "time.sleep(0.5)\nz = 'set by the first'"), run(sessions, "a", "z")
    )
    assert second.result == "'set by the first'"


async def test_keys_are_never_paths(sessions: CodeSessions) -> None:
    await run(sessions, "../../escape", "open('x.txt', 'w').write('x')")
    (folder,) = sessions.root.iterdir()
    assert folder.parent == sessions.root and len(folder.name) == 32
    assert (folder / "x.txt").read_text() == "x"


async def test_aclose_during_a_call_ends_it(open_sessions: OpenSessions) -> None:
    sessions = open_sessions()
    await run(sessions, "t", "import time")
    call = asyncio.create_task(sessions.execute("t", "time.sleep(60)"))
    await asyncio.sleep(0.5)
    await sessions.aclose()
    done = await asyncio.wait_for(call, 10)
    assert done.error is not None and "session was lost" in done.error
    assert list(sessions.root.iterdir()) == []


async def test_a_cancelled_call_stops_its_code(sessions: CodeSessions) -> None:
    await run(sessions, "t", "import time\nx = 1")
    call = asyncio.create_task(sessions.execute("t", "time.sleep(60)"))
    await asyncio.sleep(0.5)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    start = time.monotonic()
    after = await run(sessions, "t", "x")
    assert after.result == "1" and not after.fresh
    assert time.monotonic() - start < 5  # not queued behind the minute of sleep


async def test_a_relative_root_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: SandboxMode
) -> None:
    monkeypatch.chdir(tmp_path)
    sessions = CodeSessions(Path("data") / "code", require(mode))
    try:
        await run(sessions, "t", "open('here.txt', 'w').write('x')")
        (folder,) = (tmp_path / "data" / "code").iterdir()
        assert (folder / "here.txt").read_text() == "x"
    finally:
        await sessions.aclose()


KILLED_FERRY = """
import asyncio, os, sys
from pathlib import Path
from ferry.tools.code.sandbox import SandboxMode, probe
from ferry.tools.code.sessions import CodeSessions

async def main():
    sessions = CodeSessions(Path(sys.argv[1]), probe(SandboxMode.BWRAP))
    await sessions.execute("t", "1")
    print(sessions._runtime, flush=True)
    os.kill(os.getpid(), 9)

asyncio.run(main())
"""


async def test_what_a_killed_ferry_left_is_removed(
    open_sessions: OpenSessions, tmp_path: Path
) -> None:
    require(SandboxMode.BWRAP)
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", KILLED_FERRY, str(tmp_path / "killed"), stdout=PIPE
    )
    out, _ = await child.communicate()
    assert child.returncode == -9
    left = Path(out.decode().strip())
    assert left.is_dir()
    sessions = open_sessions()
    await run(sessions, "t", "1")
    assert not left.exists()
    assert sessions._runtime is not None and sessions._runtime.exists()  # its own stays
