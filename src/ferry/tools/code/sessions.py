"""code_interpreter's Python sessions: one Jupyter kernel per session key, kept between calls.

A session is a kernel (ipykernel, started in the sandbox `sandbox.kernel_launch` builds and
driven with jupyter_client's async API over ipc sockets, since TCP loopback does not cross
the sandbox's network namespace) plus a working folder, `<root>/<hash of the key>/`, which
the kernel sees as /mnt/data (bwrap) or its working directory (unsafe).

Calls to one session run one at a time; sessions run in parallel. When a kernel dies (out of
memory, CPU time used up, a crash, or killed after ignoring an interrupt) the folder stays:
the next call starts a fresh kernel (`fresh=True`) that finds the files but not the
variables. `close`, `sweep` and `aclose` end sessions for good and delete their folders (a
folder left by a Ferry that crashed is picked up again by the next session with that key).

Ferry never follows a path the program made: the folder is walked and written through
directory descriptors without following symlinks, so a symlink to /etc/shadow left in
/mnt/data returns nothing and an input file never lands outside the folder.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import fcntl
import hashlib
import json
import os
import queue
import re
import secrets
import shutil
import signal
import stat
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from jupyter_client.asynchronous.client import AsyncKernelClient
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager

from ferry.tools.code.sandbox import (
    Limits,
    Sandbox,
    allocate_uid,
    connection_file,
    kernel_launch,
    kill_user,
    prepare_session,
    release_uid,
)
from ferry.tools.errors import CodeError, CodeUnavailable, InvalidInput, KernelStartError

__all__ = ["MAX_FILE_BYTES", "MAX_FILES", "CodeSessions", "Execution"]

MAX_FILE_BYTES = 32 << 20
"""Files larger than this are left out of `Execution.files` (they stay in the folder)."""
MAX_FILES = 50
"""At most this many files come back from one call."""
_MAX_LOG_CHARS = 1_000_000
_MAX_IMAGES = 32
_START_TIMEOUT = 60.0
_INTERRUPT_GRACE = 3.0
_ALIVE_EVERY = 0.5
_KERNEL_NAME = "ferry-sandbox"
_RUNTIME_PREFIX = "ferry-code-"
_OWNER = "owner.lock"
_NO_INPUTS: Mapping[str, bytes] = MappingProxyType({})
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")


@dataclass
class Execution:
    """What one call produced.

    `logs` is stdout and stderr as they came, the result's text and, on an error, the
    traceback (all without ANSI colours); `images` the PNGs the code displayed, in order;
    `files` the files of the working folder this call created or changed (relative path,
    bytes; no dot-files or __pycache__, none above `MAX_FILE_BYTES`); `error` one line
    ("ZeroDivisionError: division by zero", "timed out after 120 s …") or None; `fresh`
    whether this call started a new kernel; `result` the text of the last expression.
    """

    logs: str
    images: list[bytes]
    files: list[tuple[str, bytes]]
    error: str | None
    fresh: bool
    result: str | None


@dataclass(eq=False)
class _Session:
    name: str
    folder: Path
    runtime: Path
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    uid: int | None = None
    manager: AsyncKernelManager | None = None
    client: AsyncKernelClient | None = None
    pending: str | None = None  # a cancelled call's request, maybe still running
    last_used: float = field(default_factory=time.monotonic)


@dataclass
class _Output:
    logs: list[str] = field(default_factory=list)
    chars: int = 0
    images: list[bytes] = field(default_factory=list)
    error: str | None = None
    result: str | None = None

    def log(self, text: str) -> None:
        if self.chars >= _MAX_LOG_CHARS:
            return
        text = _ANSI.sub("", text)
        if self.chars + len(text) > _MAX_LOG_CHARS:
            text = text[: _MAX_LOG_CHARS - self.chars] + "\n[… output truncated …]\n"
        self.logs.append(text)
        self.chars += len(text)

    def take(self, msg: dict[str, Any]) -> None:
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream":
            self.log(str(content.get("text", "")))
        elif kind in ("display_data", "execute_result"):
            data = content.get("data", {})
            png = data.get("image/png")
            text = data.get("text/plain")
            if isinstance(png, str):
                if len(self.images) < _MAX_IMAGES:
                    self.images.append(base64.b64decode(png))
            elif isinstance(text, str):
                if kind == "execute_result":
                    self.result = _ANSI.sub("", text)
                self.log(text if text.endswith("\n") else text + "\n")
        elif kind == "error":
            name, text = content.get("ename", "Error"), content.get("evalue", "")
            self.error = f"{name}: {text}" if text else str(name)
            self.log("\n".join(content.get("traceback", [])) + "\n")


class CodeSessions:
    """Python sessions by key (a thread or conversation id), each in its own sandbox."""

    def __init__(
        self,
        root: Path,
        sandbox: Sandbox,
        limits: Limits = Limits(),  # noqa: B008 - frozen, so one shared default is fine
        *,
        idle_seconds: float = 3600.0,
    ) -> None:
        self.root = root.absolute()  # the sandbox's mounts are resolved from elsewhere
        self.sandbox = sandbox
        self.limits = limits
        self.idle_seconds = idle_seconds
        self._sessions: dict[str, _Session] = {}
        self._runtime: Path | None = None
        self._owner: int | None = None  # the runtime folder's lock, held while we live
        self._swept_stale = False
        self._closed = False

    @property
    def available(self) -> bool:
        """Whether code can run at all (the sandbox probe found a way)."""
        return self.sandbox.effective is not None

    async def execute(
        self,
        key: str,
        code: str,
        *,
        inputs: Mapping[str, bytes] = _NO_INPUTS,
        timeout: float | None = None,
    ) -> Execution:
        """Run `code` in the session `key` (starting its kernel if needed), after placing
        `inputs` in its folder (those missing or different). After `timeout` seconds
        (default `limits.wall_seconds`) the kernel is interrupted; if it does not stop
        within a few seconds, the whole session is killed."""
        if not self.available:
            raise CodeUnavailable(self.sandbox.reason)
        for name in inputs:
            _check_name(name)
        limit = self.limits.wall_seconds if timeout is None else timeout
        while True:
            if self._closed:
                raise CodeError("the code sessions are shut down")
            session = self._session(key)
            async with session.lock:
                if self._sessions.get(key) is not session:
                    continue  # closed while we waited: start over with a new one
                try:
                    return await self._execute(session, code, inputs, limit)
                finally:
                    session.last_used = time.monotonic()

    async def sweep(self) -> int:
        """Close the sessions idle for longer than `idle_seconds`; how many."""
        now = time.monotonic()
        idle = [
            key
            for key, s in self._sessions.items()
            if not s.lock.locked() and now - s.last_used > self.idle_seconds
        ]
        closed = 0
        for key in idle:
            closed += await self._close(key, idle_only=True)
        return closed

    async def close(self, key: str) -> None:
        """End the session `key`: kill its kernel and every process in it, delete its
        folder. Waits for a running call to finish."""
        await self._close(key, idle_only=False)

    async def aclose(self) -> None:
        """Kill every kernel (running calls return with the session lost) and remove all
        folders."""
        self._closed = True
        sessions = list(self._sessions.values())
        self._sessions.clear()
        # A running call owns its session's channels: kill only the processes, and the call
        # notices the loss and cleans up; then every lock is free.
        await asyncio.gather(*(self._kill(s) for s in sessions if s.lock.locked()))
        for s in sessions:
            async with s.lock:
                await self._stop(s)
                await self._forget(s)
        if self._runtime is not None:
            await asyncio.to_thread(_remove_tree, self._runtime)
            self._runtime = None
        if self._owner is not None:
            os.close(self._owner)
            self._owner = None

    # --- internals ---------------------------------------------------------------------------

    def _session(self, key: str) -> _Session:
        session = self._sessions.get(key)
        if session is None:
            if self._runtime is None:
                # Short and private: unix socket paths must stay under 108 bytes.
                self._runtime = Path(tempfile.mkdtemp(prefix=_RUNTIME_PREFIX))
                self._runtime.chmod(0o711)  # see prepare_session
                self._owner = _claim(self._runtime)
            name = hashlib.sha256(key.encode()).hexdigest()[:32]
            session = _Session(name, self.root / name, self._runtime / name[:16])
            self._sessions[key] = session
        return session

    async def _close(self, key: str, *, idle_only: bool) -> int:
        session = self._sessions.get(key)
        if session is None:
            return 0
        async with session.lock:
            if self._sessions.get(key) is not session:
                return 0
            if idle_only and time.monotonic() - session.last_used <= self.idle_seconds:
                return 0
            del self._sessions[key]
            await self._stop(session)
            await self._forget(session)
        return 1

    async def _forget(self, s: _Session) -> None:
        release_uid(s.uid)
        s.uid = None
        await asyncio.to_thread(_remove_tree, s.folder)
        await asyncio.to_thread(_remove_tree, s.runtime)

    async def _execute(
        self, s: _Session, code: str, inputs: Mapping[str, bytes], limit: float
    ) -> Execution:
        fresh = False
        if s.pending is not None and s.manager is not None and s.client is not None:
            # A cancelled call's code was interrupted: let it finish (or end the session).
            await self._follow(
                s, s.manager, s.client, s.pending, _INTERRUPT_GRACE, interrupted=True
            )
        s.pending = None
        if s.manager is None or s.client is None or not await s.manager.is_alive():
            await self._stop(s)
            await self._start(s)
            fresh = True
        await asyncio.to_thread(_place_inputs, s.folder, inputs, s.uid)
        before = await asyncio.to_thread(_scan, s.folder)
        out = await self._run(s, code, limit)
        files = await asyncio.to_thread(_changed, s.folder, before)
        return Execution(
            logs="".join(out.logs),
            images=out.images,
            files=files,
            error=out.error,
            fresh=fresh,
            result=out.result,
        )

    async def _start(self, s: _Session) -> None:
        if not self._swept_stale:
            self._swept_stale = True
            await asyncio.to_thread(_remove_stale_runtimes)
        # A new uid for every kernel: the last one's killed processes may linger as zombies
        # until init reaps them, and would still count against the new kernel's RLIMIT_NPROC.
        release_uid(s.uid)
        s.uid = await asyncio.to_thread(allocate_uid)
        await asyncio.to_thread(prepare_session, s.folder, s.runtime, s.uid)
        launch = await asyncio.to_thread(
            kernel_launch, self.sandbox, self.limits, folder=s.folder, runtime=s.runtime, uid=s.uid
        )
        spec = {
            "argv": launch.argv,
            "display_name": "Python (Ferry sandbox)",
            "language": "python",
            # A signal would reach bubblewrap, not the kernel behind it: ask the kernel
            # over its control channel, and it sends SIGINT to itself.
            "interrupt_mode": "message",
            "env": {},
            "metadata": {},
        }
        kernels = s.runtime / "kernels"
        await asyncio.to_thread(_write_spec, kernels / _KERNEL_NAME / "kernel.json", spec)
        manager = AsyncKernelManager(
            kernel_name=_KERNEL_NAME,
            kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels)]),
            transport="ipc",
            connection_file=str(connection_file(s.runtime)),
        )
        # Written now rather than by start_kernel so it can be handed to the session's uid.
        manager.write_connection_file()
        if s.uid is not None:
            os.chown(manager.connection_file, s.uid, s.uid)
        log = s.runtime / "kernel.log"
        s.manager = manager
        descriptor = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        client: AsyncKernelClient | None = None
        try:
            with os.fdopen(descriptor, "ab") as output:
                await manager.start_kernel(
                    env=launch.env, cwd=str(launch.cwd), stdout=output, stderr=output
                )
            client = manager.client()
            client.start_channels()
            await client.wait_for_ready(timeout=_START_TIMEOUT)
        except BaseException as e:  # cancelled too: no half-started kernel is left behind
            if client is not None:
                client.stop_channels()
            await self._stop(s)
            if not isinstance(e, OSError | RuntimeError):
                raise
            tail = await asyncio.to_thread(_tail, log)
            raise KernelStartError(f"the Python kernel did not start: {tail or e}") from None
        s.client = client

    async def _stop(self, s: _Session) -> None:
        """Stop the kernel and every process of the session; idempotent."""
        manager, client = s.manager, s.client
        s.manager = s.client = None
        if client is not None:
            client.stop_channels()
        if manager is not None:
            with contextlib.suppress(Exception):
                await manager.shutdown_kernel(now=True)
        await kill_user(s.uid)

    async def _kill(self, s: _Session) -> None:
        """SIGKILL the session's processes, leaving the cleanup to `_stop`."""
        if s.manager is not None and s.manager.provisioner is not None:
            with contextlib.suppress(Exception):
                await s.manager.provisioner.kill()
        await kill_user(s.uid)

    async def _run(self, s: _Session, code: str, limit: float) -> _Output:
        manager, client = s.manager, s.client
        assert manager is not None and client is not None
        await _drain_shell(client)
        msg_id = client.execute(code, store_history=True, allow_stdin=False)
        s.pending = msg_id
        try:
            out = await self._follow(s, manager, client, msg_id, limit)
        except asyncio.CancelledError:
            # The caller gave up: stop the code too. The next call waits for it to wind down
            # (the kernel would otherwise abort a request queued behind an interrupted one).
            with contextlib.suppress(Exception):
                await manager.interrupt_kernel()
            raise
        s.pending = None
        return out

    async def _follow(
        self,
        s: _Session,
        manager: AsyncKernelManager,
        client: AsyncKernelClient,
        msg_id: str,
        limit: float,
        *,
        interrupted: bool = False,
    ) -> _Output:
        """Collect the call's outputs until the kernel is idle again, interrupting it at
        the deadline and ending the session if that does not help (at once when it was
        `interrupted` already)."""
        out = _Output()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        checked = loop.time()
        while True:
            now = loop.time()
            if now >= deadline:
                if interrupted:
                    await self._stop(s)
                    out.error = (
                        f"timed out after {limit:g} s; the session did not stop when "
                        "interrupted and was ended (its variables are gone)"
                    )
                    return out
                interrupted = True
                deadline = now + _INTERRUPT_GRACE
                with contextlib.suppress(Exception):
                    await manager.interrupt_kernel()
            if now - checked >= _ALIVE_EVERY:
                checked = now
                if not await manager.is_alive():
                    return await self._lost(s, out)
            try:
                msg = await client.get_iopub_msg(timeout=min(_ALIVE_EVERY, deadline - now))
            except queue.Empty:
                continue
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            out.take(msg)
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                if interrupted:
                    out.error = f"timed out after {limit:g} s (the session was interrupted)"
                return out

    async def _lost(self, s: _Session, out: _Output) -> _Output:
        code: int | None = None
        if s.manager is not None and s.manager.provisioner is not None:
            code = await s.manager.provisioner.poll()
        await self._stop(s)
        out.error = (
            f"the session was lost: its Python process {_ending(code)}; its variables are "
            "gone, files in the folder stay"
        )
        return out


def _ending(code: int | None) -> str:
    """How a kernel ended, from its exit status (bwrap reports a signal as 128 + number)."""
    if code is None:
        return "ended"
    number = -code if code < 0 else code - 128 if 128 < code < 128 + 65 else 0
    if number:
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        why = _SIGNALS.get(name, "")
        return f"was killed by {name}{why}"
    return f"exited with status {code}"


_SIGNALS = {
    "SIGKILL": " (out of memory, or killed)",
    "SIGXCPU": " (its CPU time limit ran out)",
    "SIGSEGV": " (it crashed)",
    "SIGABRT": " (it aborted)",
}


async def _drain_shell(client: AsyncKernelClient) -> None:
    """Drop replies nobody waits for (kernel_info retries, replies to earlier calls)."""
    while True:
        try:
            await client.get_shell_msg(timeout=0)
        except queue.Empty:
            return


def _write_spec(path: Path, spec: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(spec, indent=1), encoding="utf-8")


def _tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return " | ".join(line for line in text.strip().splitlines()[-lines:] if line.strip())


def _check_name(name: str) -> None:
    if not name or "/" in name or "\0" in name or name in (".", ".."):
        raise InvalidInput(f"an input file needs a plain name, not {name!r}")


def _hidden(name: str) -> bool:
    return name.startswith(".") or name == "__pycache__"


_Signature = tuple[int, int, int, int]


def _signature(st: os.stat_result) -> _Signature:
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


def _open_dir(folder: Path) -> int:
    return os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)


def _read_regular(name: str, dir_fd: int, cap: int) -> bytes | None:
    """A regular file's bytes (None if it is not one or is bigger than `cap`); never
    follows a symlink and never blocks on a FIFO."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(name, flags, dir_fd=dir_fd)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode) or st.st_size > cap:
            return None
        data = f.read(cap + 1)
    return data if len(data) <= cap else None


def _place_inputs(folder: Path, inputs: Mapping[str, bytes], uid: int | None) -> None:
    if not inputs:
        return
    dir_fd = _open_dir(folder)
    try:
        for name, data in inputs.items():
            try:
                st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            except FileNotFoundError:
                st = None
            if st is not None:
                if stat.S_ISDIR(st.st_mode):
                    raise InvalidInput(f"{name!r} is a folder in the session")
                if (
                    stat.S_ISREG(st.st_mode)
                    and st.st_size == len(data)
                    and _read_regular(name, dir_fd, len(data)) == data
                ):
                    continue
            temp = f".ferry-input-{secrets.token_hex(8)}"
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            fd = os.open(temp, flags, 0o644, dir_fd=dir_fd)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                if uid is not None:
                    os.fchown(f.fileno(), uid, uid)
            # Replaces whatever has the name (a symlink included), never what it points to.
            os.replace(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    finally:
        os.close(dir_fd)


def _walk(folder: Path) -> Iterator[tuple[str, str, int, os.stat_result]]:
    """(relative path, name, dir fd, lstat) of the folder's visible regular files."""
    for top, dirs, files, dir_fd in os.fwalk(folder, follow_symlinks=False):
        dirs[:] = [d for d in dirs if not _hidden(d)]
        rel = os.path.relpath(top, folder)
        for name in sorted(files):
            if _hidden(name):
                continue
            try:
                st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                path = name if rel == "." else f"{rel}/{name}"
                yield path, name, dir_fd, st


def _scan(folder: Path) -> dict[str, _Signature]:
    return {path: _signature(st) for path, _, _, st in _walk(folder)}


def _changed(folder: Path, before: Mapping[str, _Signature]) -> list[tuple[str, bytes]]:
    found: list[tuple[str, bytes]] = []
    for path, name, dir_fd, st in _walk(folder):
        if len(found) >= MAX_FILES:
            break
        if before.get(path) == _signature(st) or st.st_size > MAX_FILE_BYTES:
            continue
        data = _read_regular(name, dir_fd, MAX_FILE_BYTES)
        if data is not None:
            found.append((path, data))
    return sorted(found)


def _claim(runtime: Path) -> int:
    """Lock a new runtime folder for as long as this process lives (the kernel drops the
    lock when it dies, however it dies). Locked before it gets its name, so no other Ferry
    ever sees it unlocked."""
    temp = runtime / f"{_OWNER}.new"
    fd = os.open(temp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.rename(temp, runtime / _OWNER)
    return fd


def _remove_stale_runtimes() -> None:
    """Delete the runtime folders of Ferry processes that ended without `aclose` (killed):
    their kernels went with them (bwrap's --die-with-parent, ipykernel's parent poller).
    Works across PID namespaces sharing /tmp, since it asks the lock, not a pid."""
    for path in Path(tempfile.gettempdir()).glob(f"{_RUNTIME_PREFIX}*"):
        try:
            fd = os.open(path / _OWNER, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            continue  # not one of ours, or a probe's
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue  # its Ferry is alive
        else:
            _remove_tree(path)
        finally:
            os.close(fd)


def _remove_tree(path: Path) -> None:
    """Delete a folder whatever the program did to its modes (not root: chmod first)."""

    def retry(func: Callable[..., Any], target: str, _: Any) -> None:
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(target), 0o700)
            if os.path.isdir(target) and not os.path.islink(target):
                os.chmod(target, 0o700)
            func(target)

    if not (path.exists() or path.is_symlink()):
        return
    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=retry)
    else:
        shutil.rmtree(path, onerror=retry)
