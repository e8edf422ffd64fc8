"""Where code_interpreter's programs run, and what stops them.

Model-written code is hostile until proven otherwise, so every session's Jupyter kernel starts
behind a wrapper built here. `FERRY_CODE_SANDBOX` picks it (`parse_mode`); `probe` says whether
it works on this host and why. What each mode enforces:

============  ==================================  ==================================
              bwrap (default where it runs)       unsafe (explicit opt-in)
============  ==================================  ==================================
files         empty root; read-only /usr, a few   the host's files are readable; as
              /etc files and the Python in use;   root writes go only where the
              writable: /mnt/data (the session    kernel's own uid may (its folder,
              folder) and a private, capped       world-writable places); not root:
              /tmp and /dev/shm                   all that Ferry's user may
network       none (own namespace; a loopback     the host's, loopback included
              of its own)                         (Ferry's own ports too)
other         invisible (only its own folder is   readable (as root) or readable and
sessions      mounted; own PID namespace)         writable (not root)
processes     RLIMIT_NPROC on the kernel's uid;   the same as root; not root, the
              ending a session kills them all     limit is on top of Ferry's count,
                                                  and only the process group dies
memory        RLIMIT_AS, per process              the same
CPU           RLIMIT_CPU, per process (the        the same
              kernel's total over its calls)
file size     RLIMIT_FSIZE                        the same
wall time     per call (sessions.py: interrupt,   the same
              then kill)
============  ==================================  ==================================

`off` refuses code; `auto` is bwrap when it runs here, otherwise refusal with a reason.

As root, every kernel runs under a uid of its own (from 200000 up), so RLIMIT_NPROC counts only
that session's processes and ending it can kill every one of them by uid. bubblewrap then runs
without a user namespace (one made by root maps only uid 0, leaving no uid to drop to) and
`setpriv` inside the sandbox drops to that uid with no capabilities and no_new_privs; in unsafe
mode the uid keeps CAP_DAC_READ_SEARCH alone, since the interpreter may live where only root
can look (/root/.pyenv). Not as root, bubblewrap's user namespace does that job and
RLIMIT_NPROC is the user's current task count plus the limit.

Limits are set by `prlimit` in front of everything. They are per process, not per session
(a fork bomb's 64 processes may each take `memory_bytes`); that would take cgroups. Disk
use of the session folder is not capped either, only the size of each file.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import pwd
import random
import re
import shutil
import site
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import NamedTuple

from ferry.errors import ConfigError

__all__ = [
    "DATA_DIR",
    "KernelLaunch",
    "Limits",
    "Sandbox",
    "SandboxMode",
    "allocate_uid",
    "connection_file",
    "kernel_launch",
    "kill_user",
    "parse_mode",
    "prepare_session",
    "probe",
    "release_uid",
    "running_processes",
    "task_count",
]

MiB = 1 << 20
GiB = 1 << 30

DATA_DIR = "/mnt/data"
"""The session folder's path inside the bwrap sandbox (and its working directory)."""

_UID_BASE = 200_000
_UID_SPAN = 100_000
_SANDBOX_HOME = "/tmp"
_TOP_LEVEL = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# What dynamic linking, time zones and /usr/bin's alternatives need from /etc; nothing else.
_ETC = (
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/alternatives",
    "/etc/fonts",
)


class SandboxMode(StrEnum):
    """`FERRY_CODE_SANDBOX`: how code_interpreter's programs are contained."""

    AUTO = "auto"
    BWRAP = "bwrap"
    UNSAFE = "unsafe"
    OFF = "off"


def parse_mode(text: str) -> SandboxMode:
    """The mode a `FERRY_CODE_SANDBOX` value names (empty means `auto`)."""
    value = text.strip().lower() or SandboxMode.AUTO.value
    try:
        return SandboxMode(value)
    except ValueError:
        choices = ", ".join(m.value for m in SandboxMode)
        raise ConfigError(f"FERRY_CODE_SANDBOX must be one of {choices}, not {text!r}") from None


@dataclass(frozen=True)
class Limits:
    """Resource limits of one session, applied in every mode.

    `cpu_seconds` is the kernel process's CPU time over all its calls (then it is killed and
    the next call starts afresh); `memory_bytes`, `file_bytes` and `open_files` hold per
    process; `processes` counts the session's processes and threads; `wall_seconds` is one
    call's default time; `tmp_bytes` sizes the private /tmp and /dev/shm (bwrap), which are
    memory and would otherwise escape `memory_bytes`.
    """

    cpu_seconds: int = 600
    memory_bytes: int = 2 * GiB
    processes: int = 64
    file_bytes: int = 100 * MiB
    wall_seconds: float = 120
    open_files: int = 256
    tmp_bytes: int = 256 * MiB


@dataclass(frozen=True)
class Sandbox:
    """What `probe` found: the mode asked for, what will actually run code ("bwrap",
    "unsafe", or None when code is refused), and a sentence saying why."""

    mode: SandboxMode
    effective: str | None
    reason: str


@dataclass(frozen=True)
class KernelLaunch:
    """How to start one session's kernel: `argv` holds jupyter_client's `{connection_file}`
    placeholder; `env` is the whole environment of the first process (nothing of Ferry's
    own environment, its secrets included, reaches the kernel)."""

    argv: list[str]
    env: dict[str, str]
    cwd: Path


@dataclass(frozen=True)
class _Tools:
    bwrap: str | None
    bwrap_version: str
    prlimit: str | None
    setpriv: str | None
    kill: str | None
    env: str | None


@functools.cache
def _tools() -> _Tools:
    bwrap = shutil.which("bwrap")
    version = ""
    if bwrap:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [bwrap, "--version"], capture_output=True, text=True, timeout=10, check=False
            ).stdout
            version = out.strip().removeprefix("bubblewrap").strip()
    return _Tools(
        bwrap=bwrap,
        bwrap_version=version,
        prlimit=shutil.which("prlimit"),
        setpriv=shutil.which("setpriv"),
        kill=shutil.which("kill"),
        env=shutil.which("env"),
    )


def _is_root() -> bool:
    return os.geteuid() == 0


def _version_at_least(version: str, wanted: tuple[int, ...]) -> bool:
    numbers = tuple(int(n) for n in re.findall(r"\d+", version)[: len(wanted)])
    return numbers >= wanted


# --- session users (root only) ---------------------------------------------------------------

_uid_lock = threading.Lock()
_uids: set[int] = set()


class _Task(NamedTuple):
    pid: int
    uid: int  # real uid, what RLIMIT_NPROC and kill(2) go by
    threads: int
    zombie: bool  # dead, waiting for its parent (or init) to reap it


def _tasks() -> list[_Task]:
    """Every process visible in /proc."""
    with os.scandir("/proc") as entries:
        pids = [entry.name for entry in entries if entry.name.isdigit()]
    found = []
    for pid in pids:
        uid = threads = -1
        zombie = False
        try:
            with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
                for line in f:
                    if line.startswith("State:"):
                        zombie = line.split()[1] in ("Z", "X")
                    elif line.startswith("Uid:"):
                        uid = int(line.split()[1])
                    elif line.startswith("Threads:"):
                        threads = int(line.split()[1])
                        break
        except (OSError, ValueError, IndexError):
            continue
        if uid >= 0:
            found.append(_Task(int(pid), uid, max(threads, 1), zombie))
    return found


def task_count(uid: int) -> int:
    """Tasks (processes and threads, zombies included: what RLIMIT_NPROC counts) whose real
    uid is `uid`."""
    return sum(t.threads for t in _tasks() if t.uid == uid)


def running_processes(uid: int) -> int:
    """Processes of `uid` still alive (zombies hold nothing but a pid until reaped)."""
    return sum(1 for t in _tasks() if t.uid == uid and not t.zombie)


def allocate_uid() -> int | None:
    """A uid no process, account or other kernel uses, for one session's kernel; None when
    Ferry is not root (sessions then share Ferry's uid inside a user namespace)."""
    if not _is_root():
        return None
    busy = {t.uid for t in _tasks()}  # zombies too: they still count against RLIMIT_NPROC
    start = random.randrange(_UID_SPAN)
    with _uid_lock:
        for step in range(_UID_SPAN):
            uid = _UID_BASE + (start + step) % _UID_SPAN
            if uid in _uids or uid in busy:
                continue
            try:
                pwd.getpwuid(uid)
            except KeyError:
                _uids.add(uid)
                return uid
    raise RuntimeError("no free uid left for a code session")


def release_uid(uid: int | None) -> None:
    """Give a session's uid back (after `kill_user`)."""
    if uid is not None:
        with _uid_lock:
            _uids.discard(uid)


def _kill_user_blocking(uid: int) -> None:
    kill = _tools().kill
    for _ in range(40):
        if not running_processes(uid):
            return
        if kill:
            # kill(-1) as the session's uid reaches all its processes in one sweep, so a
            # fork bomb cannot outrun it; it cannot touch anyone else's.
            subprocess.run(
                [kill, "-KILL", "-1"],
                user=uid,
                group=uid,
                extra_groups=[],
                env={},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=False,
                timeout=10,
            )
        else:
            for t in _tasks():
                if t.uid == uid and not t.zombie:
                    with contextlib.suppress(OSError):
                        os.kill(t.pid, 9)
        threading.Event().wait(0.05)


async def kill_user(uid: int | None) -> None:
    """SIGKILL every process of a session's uid (as root; without a uid there is nothing
    Ferry may kill by owner, and the PID namespace or process group has to do)."""
    if uid is None:
        return
    await asyncio.to_thread(_kill_user_blocking, uid)


# --- session folders -------------------------------------------------------------------------


def connection_file(runtime: Path) -> Path:
    """Where a session's connection file (and, beside it, its ipc sockets) lives."""
    return runtime / "ipc" / "kernel.json"


def _chown_tree(top: Path, uid: int) -> None:
    """Hand a folder and what earlier kernels left in it to `uid`. Only entries a session
    uid owns change hands: a hard link to a host file (were one possible) stays as it is."""
    os.chown(top, uid, uid, follow_symlinks=False)
    for _, dirs, files, fd in os.fwalk(top, follow_symlinks=False):
        for name in dirs + files:
            with contextlib.suppress(FileNotFoundError):
                owner = os.stat(name, dir_fd=fd, follow_symlinks=False).st_uid
                if _UID_BASE <= owner < _UID_BASE + _UID_SPAN:
                    os.chown(name, uid, uid, dir_fd=fd, follow_symlinks=False)


def prepare_session(folder: Path, runtime: Path, uid: int | None) -> None:
    """Create a session's folder (owned by its uid, files from an earlier kernel included)
    and its private runtime folder: ipc/ for the sockets, home/ and tmp/ for unsafe mode,
    passwd and group naming the uid inside the sandbox. Blocking."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Crossable, not listable (and so must be the folder holding it): in unsafe mode the
    # session's uid reaches home/ and tmp/ by path, and access(2) ignores the capability
    # that would otherwise let it.
    runtime.chmod(0o711)
    for name in ("ipc", "home", "tmp"):
        (runtime / name).mkdir(mode=0o700, exist_ok=True)
    sandbox_uid = os.getuid() if uid is None else uid
    sandbox_gid = os.getgid() if uid is None else uid
    (runtime / "passwd").write_text(
        f"sandbox:x:{sandbox_uid}:{sandbox_gid}:code session:{_SANDBOX_HOME}:/bin/sh\n",
        encoding="ascii",
    )
    (runtime / "group").write_text(f"sandbox:x:{sandbox_gid}:\n", encoding="ascii")
    if uid is not None:
        _chown_tree(folder, uid)
        for name in ("ipc", "home", "tmp"):
            _chown_tree(runtime / name, uid)


# --- command lines ---------------------------------------------------------------------------


def _threads() -> str:
    """Math libraries start a thread per core; keep them from eating the process limit."""
    return str(max(1, min(4, len(os.sched_getaffinity(0)))))


def _kernel_env(home: str, tmp: str) -> dict[str, str]:
    venv_bin = os.path.dirname(sys.executable)
    threads = _threads()
    return {
        "PATH": f"{venv_bin}:/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "TMPDIR": tmp,
        "LANG": "C.UTF-8",
        "USER": "sandbox",
        "LOGNAME": "sandbox",
        # Headless and inline: plt.show() and figures left open come back as PNG outputs.
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        "OPENBLAS_NUM_THREADS": threads,
        "OMP_NUM_THREADS": threads,
        "MKL_NUM_THREADS": threads,
        "NUMEXPR_MAX_THREADS": threads,
        # debugpy's warning about frozen modules would end up in every session's stderr.
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    }


def _kernel_command() -> list[str]:
    return [
        sys.executable,
        "-m",
        "ipykernel_launcher",
        "-f",
        "{connection_file}",
        "--HistoryManager.enabled=False",
    ]


def _prlimit(tools: _Tools, limits: Limits) -> list[str]:
    assert tools.prlimit is not None
    processes = limits.processes
    if not _is_root():
        # Without a uid of its own the session shares the count with Ferry's processes.
        processes += task_count(os.getuid())
    return [
        tools.prlimit,
        f"--cpu={limits.cpu_seconds}:{limits.cpu_seconds + 5}",
        f"--as={limits.memory_bytes}",
        f"--nproc={processes}",
        f"--fsize={limits.file_bytes}",
        f"--nofile={limits.open_files}",
        "--core=0",
        "--",
    ]


def _python_paths() -> list[str]:
    """The folders the running interpreter needs, smallest set, /usr excluded."""
    paths: set[str] = set()
    candidates = [
        sys.prefix,
        sys.base_prefix,
        sys.exec_prefix,
        sys.base_exec_prefix,
        os.path.dirname(os.path.realpath(sys.executable)),
        *site.getsitepackages(),
    ]
    for path in candidates:
        for p in {os.path.abspath(path), os.path.realpath(path)}:
            if os.path.isdir(p):
                paths.add(p)
    kept: list[str] = []
    for p in sorted(paths):
        if p == "/usr" or p.startswith("/usr/"):
            continue
        if any(p.startswith(k + "/") for k in kept):
            continue
        kept.append(p)
    return kept


class _Mounts:
    """bwrap mount arguments, creating every parent folder 0755 (bwrap makes them 0700,
    which an unprivileged uid could not cross). `--chmod` rather than `--perms`, and
    `--size` only where known, so that bubblewrap 0.5 and later all understand them."""

    def __init__(self, version: str) -> None:
        self.argv: list[str] = []
        self.made: set[str] = {"/"}
        self.sized = _version_at_least(version, (0, 7))

    def _parents(self, dest: str) -> None:
        for parent in reversed(Path(dest).parents):
            p = str(parent)
            if p not in self.made:
                self.argv += ["--dir", p, "--chmod", "0755", p]
                self.made.add(p)

    def add(self, dest: str, *op: str) -> None:
        self._parents(dest)
        self.argv += [*op, dest]
        self.made.add(dest)

    def tmpfs(self, dest: str, size: int) -> None:
        """A private, world-writable (sticky) tmpfs, capped: it is memory."""
        self.add(dest, *(("--size", str(size)) if self.sized else ()), "--tmpfs")
        self.argv += ["--chmod", "1777", dest]


def _bwrap(
    tools: _Tools,
    limits: Limits,
    command: Sequence[str],
    *,
    folder: Path,
    runtime: Path | None,
    uid: int | None,
) -> list[str]:
    assert tools.bwrap is not None
    argv = [tools.bwrap]
    if _is_root():
        argv += ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts"]
        argv += ["--unshare-cgroup-try"]
    else:
        argv += ["--unshare-all", "--unshare-user"]
        if _version_at_least(tools.bwrap_version, (0, 8)):
            argv += ["--disable-userns"]
    argv += ["--hostname", "sandbox", "--die-with-parent", "--new-session", "--clearenv"]
    for name, value in _kernel_env(_SANDBOX_HOME, "/tmp").items():
        argv += ["--setenv", name, value]

    m = _Mounts(tools.bwrap_version)
    m.add("/proc", "--proc")
    m.add("/dev", "--dev")
    m.tmpfs("/tmp", limits.tmp_bytes)
    m.tmpfs("/dev/shm", limits.tmp_bytes)
    m.add("/usr", "--ro-bind", "/usr")
    for top in _TOP_LEVEL:
        if os.path.islink(top):
            m.add(top, "--symlink", os.readlink(top))
        elif os.path.isdir(top):
            m.add(top, "--ro-bind", top)
    for path in _ETC:
        m.add(path, "--ro-bind-try", path)
    for path in _python_paths():
        m.add(path, "--ro-bind", path)
    if runtime is not None:
        m.add("/etc/passwd", "--ro-bind", str(runtime / "passwd"))
        m.add("/etc/group", "--ro-bind", str(runtime / "group"))
        ipc = str(runtime / "ipc")
        m.add(ipc, "--bind", ipc)  # same path inside: the connection file names it
    m.add(DATA_DIR, "--bind", str(folder))
    argv += m.argv
    if uid is None:
        argv += ["--chdir", DATA_DIR]
    else:
        assert tools.setpriv is not None
        # Root's capabilities only long enough for setpriv to become the session's uid.
        argv += ["--cap-drop", "ALL"]
        for cap in ("CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP"):
            argv += ["--cap-add", cap]
        argv += ["--", tools.setpriv, f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
        argv += ["--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]
        # bwrap's --chdir would run without root's capabilities yet before the uid change,
        # so it could not enter the folder (0700, the session's); the session's uid can.
        assert tools.env is not None
        return [*argv, tools.env, f"--chdir={DATA_DIR}", *command]
    argv += ["--cap-drop", "ALL"]
    return [*argv, "--", *command]


def _unsafe(tools: _Tools, command: Sequence[str], *, uid: int | None) -> list[str]:
    if uid is None:
        return list(command)
    assert tools.setpriv is not None
    # Reading the host stays possible (the interpreter may live in a folder only root can
    # cross, e.g. /root/.pyenv); writing is the session uid's, so only its own folder.
    return [
        tools.setpriv,
        f"--reuid={uid}",
        f"--regid={uid}",
        "--clear-groups",
        "--inh-caps=-all,+dac_read_search",
        "--ambient-caps=+dac_read_search",
        "--bounding-set=-all,+dac_read_search",
        "--no-new-privs",
        "--",
        *command,
    ]


_OUTER_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}


def kernel_launch(
    sandbox: Sandbox, limits: Limits, *, folder: Path, runtime: Path, uid: int | None
) -> KernelLaunch:
    """The command, environment and folder that start one session's kernel in `sandbox`
    (after `prepare_session(folder, runtime, uid)`)."""
    tools = _tools()
    command = _kernel_command()
    if sandbox.effective == "bwrap":
        argv = _bwrap(tools, limits, command, folder=folder, runtime=runtime, uid=uid)
        return KernelLaunch([*_prlimit(tools, limits), *argv], dict(_OUTER_ENV), folder)
    if sandbox.effective == "unsafe":
        env = _kernel_env(str(runtime / "home"), str(runtime / "tmp"))
        argv = _unsafe(tools, command, uid=uid)
        return KernelLaunch([*_prlimit(tools, limits), *argv], env, folder)
    raise ValueError(f"code cannot run here: {sandbox.reason}")


# --- probing ---------------------------------------------------------------------------------

_HINT = "install bubblewrap or set FERRY_CODE_SANDBOX=unsafe to run code without isolation"
_probe_lock = threading.Lock()
_probes: dict[SandboxMode, Sandbox] = {}


def _missing(tools: _Tools, *, bwrap: bool) -> str | None:
    if bwrap and not tools.bwrap:
        return "bwrap not found"
    if bwrap and not _version_at_least(tools.bwrap_version, (0, 5)):
        return f"bubblewrap {tools.bwrap_version or '(unknown version)'} is too old (0.5 needed)"
    if not tools.prlimit:
        return "prlimit (util-linux) not found"
    if _is_root() and not tools.setpriv:
        return "setpriv (util-linux) not found"
    if _is_root() and not tools.env:
        return "env (coreutils) not found"
    return None


def _try_bwrap(tools: _Tools) -> str | None:
    """Run the real sandbox once around `python -c pass`: None if it works, else why not."""
    missing = _missing(tools, bwrap=True)
    if missing:
        return missing
    uid = allocate_uid()
    base = Path(tempfile.mkdtemp(prefix="ferry-code-probe-"))
    try:
        folder, runtime = base / "data", base / "run"
        prepare_session(folder, runtime, uid)
        command = [sys.executable, "-I", "-c", "pass"]
        argv = [
            *_prlimit(tools, Limits()),
            *_bwrap(tools, Limits(), command, folder=folder, runtime=runtime, uid=uid),
        ]
        done = subprocess.run(
            argv,
            env=_OUTER_ENV,
            cwd=folder,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as e:
        return f"bubblewrap {tools.bwrap_version} cannot run: {e}"
    finally:
        if uid is not None:
            _kill_user_blocking(uid)
            release_uid(uid)
        shutil.rmtree(base, ignore_errors=True)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or [f"exit code {done.returncode}"]
        return f"bubblewrap {tools.bwrap_version} cannot run here: {lines[-1]}"
    return None


def _bwrap_reason(tools: _Tools) -> str:
    own = "each session under its own uid" if _is_root() else "own user namespace"
    return (
        f"bubblewrap {tools.bwrap_version}: no network, only the session folder writable, "
        f"own PID namespace, {own}"
    )


def _probe(mode: SandboxMode) -> Sandbox:
    tools = _tools()
    if mode is SandboxMode.OFF:
        return Sandbox(mode, None, "code_interpreter is turned off (FERRY_CODE_SANDBOX=off)")
    if mode is SandboxMode.UNSAFE:
        missing = _missing(tools, bwrap=False)
        if missing:
            return Sandbox(mode, None, f"{missing}: resource limits cannot be set")
        if _is_root():
            reason = (
                "no sandbox (FERRY_CODE_SANDBOX=unsafe): programs can read every file on "
                "this host and use its network; each session has its own uid, resource "
                "limits and writes only its folder and world-writable places"
            )
        else:
            reason = (
                "no sandbox (FERRY_CODE_SANDBOX=unsafe): programs run as Ferry's own user, "
                "can read and change its files and use the network; only resource limits hold"
            )
        return Sandbox(mode, "unsafe", reason)
    problem = _try_bwrap(tools)
    if problem is None:
        return Sandbox(mode, "bwrap", _bwrap_reason(tools))
    if mode is SandboxMode.BWRAP:
        return Sandbox(mode, None, f"FERRY_CODE_SANDBOX=bwrap, but {problem}")
    return Sandbox(mode, None, f"{problem}; {_HINT}")


def probe(mode: SandboxMode) -> Sandbox:
    """Whether code can run in `mode` here; for bwrap, by starting Python in the sandbox
    once. Cached per mode; blocking (well under a second), so call it at startup or through
    `asyncio.to_thread`."""
    with _probe_lock:
        if mode not in _probes:
            _probes[mode] = _probe(mode)
        return _probes[mode]
