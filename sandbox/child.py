"""One child process group on this host, for the local backend.

Spawned in its own session (so ``killpg`` reaches the whole group) with rlimits applied
between fork and exec, read through non-blocking pipes on the event loop, reaped through a
pidfd with ``wait4`` so its exit status comes back. The command runs under
:mod:`sandbox.launcher`, a small fresh interpreter that forks it and reports the command's own
CPU time and peak memory (a process forked from the server would count the server's resident
set as its own peak: Linux keeps ``ru_maxrss`` across ``execve``).

When the child runs under a uid of its own (the backend runs as root and hands each run a
distinct uid), :meth:`Child.kill` also sweeps every process of that uid: a process that
called ``setsid()`` has left the group, but it cannot leave its uid.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import resource
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sandbox.model import Stream

log = logging.getLogger("classroom.sandbox")

OnOutput = Callable[[Stream, bytes], None]

# After the leader exits, leftovers are killed; their pipe ends then close at once. The bound
# only matters for a process that escaped both the group and the uid sweep (non-root, no bwrap).
_DRAIN_SECONDS = 2.0
LAUNCHER = str(Path(__file__).with_name("launcher.py"))
# Runs (and compiles) go at a lower CPU priority than the server that started them.
RUN_NICENESS = 10


@dataclass(frozen=True)
class Exit:
    returncode: int
    """The exit code, or ``128 + n`` for death by signal ``n`` (what bwrap reports as well)."""
    signal: str | None
    cpu_ms: float
    maxrss_bytes: int | None
    """The command's peak resident set; None when the launcher was killed before it reported."""


def launcher_limits(limits: Sequence[tuple[int, int]]) -> str:
    """Each ``(resource, value)`` as the launcher's ``resource:soft:hard`` list (soft and hard
    both the value; CPU's hard limit one second later, so SIGXCPU comes first, then SIGKILL).

    Values above the current hard limit are lowered to it (raising would fail after setuid).
    """
    clamped: list[str] = []
    for res, wanted in limits:
        _soft, hard = resource.getrlimit(res)
        value = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        extra = 1 if res == resource.RLIMIT_CPU else 0
        clamped.append(f"{res}:{value}:{value + extra}")
    return ",".join(clamped)


class _Reader(asyncio.Protocol):
    def __init__(self, stream: Stream, on_output: OnOutput) -> None:
        self.stream: Stream = stream
        self.on_output = on_output
        self.closed = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        self.on_output(self.stream, data)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


class Child:
    """A spawned process group. Call :meth:`wait` once; :meth:`kill` any time, repeatedly."""

    def __init__(self, popen: subprocess.Popen[bytes], uid: int | None, status: int) -> None:
        self._popen = popen
        self._status = status
        self.pid = popen.pid
        self._uid = uid  # whose processes kill() sweeps (None: the group only)
        self._readers: list[_Reader] = []
        self._transports: list[asyncio.BaseTransport] = []
        self._stdin: asyncio.WriteTransport | None = None
        self._exited = False

    @classmethod
    async def spawn(
        cls,
        argv: Sequence[str],
        *,
        env: dict[str, str],
        cwd: str,
        rlimits: Sequence[tuple[int, int]],
        uid: int | None,
        pass_fds: Sequence[int],
        on_output: OnOutput,
        sweep_uid: bool = True,
    ) -> Child:
        """Start ``argv``. Raises ``OSError`` when it cannot be executed.

        ``sweep_uid`` False: :meth:`kill` kills the group only, not every process of ``uid``
        (under bubblewrap the run is a pid namespace of its own, which dies with its pid 1)."""
        loop = asyncio.get_running_loop()
        # The launcher execs the command; say here what exec would have said.
        found: str | None = None
        if argv:
            found = argv[0] if "/" in argv[0] else shutil.which(argv[0], path=env.get("PATH"))
        if found is None or not os.access(os.path.join(cwd, found), os.X_OK):
            raise FileNotFoundError(f"cannot run {argv[0] if argv else '(nothing)'}: not found")
        status_read, status_write = os.pipe()
        launcher = [sys.executable, "-I", "-S", LAUNCHER, str(status_write)]
        launcher += [str(-1 if uid is None else uid), str(RUN_NICENESS), launcher_limits(rlimits)]
        launcher += ["--"]
        try:
            # fork+exec takes a few ms; not worth a thread hop per run.
            popen = subprocess.Popen(  # noqa: ASYNC220
                [*launcher, *argv],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=cwd,
                env=env,
                start_new_session=True,
                pass_fds=(*pass_fds, status_write),
                close_fds=True,
            )
        except BaseException:
            os.close(status_read)
            raise
        finally:
            os.close(status_write)
        child = cls(popen, uid if sweep_uid else None, status_read)
        assert popen.stdin and popen.stdout and popen.stderr
        for stream, pipe in (("stdout", popen.stdout), ("stderr", popen.stderr)):
            reader = _Reader(stream, on_output)  # type: ignore[arg-type]
            transport, _ = await loop.connect_read_pipe(
                lambda r=reader: r,  # type: ignore[misc]
                for_the_loop(loop, pipe),
            )
            child._readers.append(reader)
            child._transports.append(transport)
        stdin, _ = await loop.connect_write_pipe(asyncio.Protocol, for_the_loop(loop, popen.stdin))
        child._stdin = stdin
        child._transports.append(stdin)
        return child

    def write_stdin(self, data: bytes) -> None:
        if self._stdin is not None and not self._stdin.is_closing():
            self._stdin.write(data)

    def close_stdin(self) -> None:
        if self._stdin is not None and not self._stdin.is_closing():
            self._stdin.close()

    def kill(self) -> None:
        """SIGKILL the group (and, with a uid of its own, every process of that uid)."""
        if not self._exited:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)
        if self._uid is not None:
            kill_uid(self._uid)

    async def wait(self) -> Exit:
        loop = asyncio.get_running_loop()
        exited = loop.create_future()
        pidfd = os.pidfd_open(self.pid)
        try:
            loop.add_reader(pidfd, _resolve, exited)
            try:
                await exited
            finally:
                loop.remove_reader(pidfd)
        finally:
            os.close(pidfd)
        # The zombie leader still holds the group id, so this cannot hit a recycled group.
        self.kill()
        _, status, usage = os.wait4(self.pid, 0)  # noqa: ASYNC222 - it has exited: no wait
        self._exited = True
        if self._uid is not None:
            # One sweep can miss a process forked while it ran (its parent dies in that very
            # sweep): sweep until none is left, so no leftover holds the output pipes open.
            await reap_uid(self._uid)
        report = _read_report(self._status)
        code = os.waitstatus_to_exitcode(status)
        self._popen.returncode = code
        sig: str | None = None
        if code < 0:
            sig = _signal_name(-code)
            code = 128 - code
        elif code > 128 and _signal_name(code - 128):
            sig = _signal_name(code - 128)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_DRAIN_SECONDS):
                await asyncio.gather(*(r.closed for r in self._readers))
        for transport in self._transports:
            transport.close()
        if report is None:  # the launcher was killed with its command: its own CPU time
            return Exit(code, sig, (usage.ru_utime + usage.ru_stime) * 1000.0, None)
        maxrss_kib, cpu_seconds = report
        return Exit(code, sig, cpu_seconds * 1000.0, maxrss_kib * 1024)


class _LoopOwned:
    """A pipe's descriptor that the event loop's transport owns and closes by itself."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def fileno(self) -> int:
        return self._fd

    def close(self) -> None:
        """Nothing: the loop has closed the descriptor already (see :func:`for_the_loop`)."""


def for_the_loop(loop: asyncio.AbstractEventLoop, pipe: IO[bytes]) -> Any:
    """What to hand ``connect_read_pipe`` / ``connect_write_pipe`` for ``pipe``.

    uvloop (0.23; its issue 763) gives the pipe's descriptor to libuv, which closes it with
    the transport, and then calls ``close()`` on the file object too: the same number closed
    twice. Between the two, another thread may have been handed that number (SQLite opening
    its files on the docstore's threads, say), and the second close takes its file away. A
    class's runs under load showed it: SQLite's "disk I/O error" on a run's record, and this
    module's status pipe read with EBADF. So under uvloop the transport gets a duplicate of
    its own, in an object whose ``close`` does nothing, and the file object is closed here,
    once. asyncio's own loops close a pipe through its file object alone: they get it as is.
    """
    if not type(loop).__module__.startswith("uvloop"):
        return pipe
    fd = os.dup(pipe.fileno())
    pipe.close()
    return _LoopOwned(fd)


def _read_report(fd: int) -> tuple[int, float] | None:
    """The launcher's ``maxrss_kib utime stime`` (it has exited: the read cannot block)."""
    try:
        data = b""
        while chunk := os.read(fd, 256):
            data += chunk
    finally:
        os.close(fd)
    try:
        maxrss, utime, stime = data.decode().split()
        return int(maxrss), float(utime) + float(stime)
    except ValueError:
        return None


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _signal_name(number: int) -> str | None:
    try:
        return signal.Signals(number).name
    except ValueError:
        return None


def kill_uid(uid: int) -> int:
    """SIGKILL every live process whose real uid is ``uid`` (one pass). Returns how many."""
    killed = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # Not st_uid: a non-dumpable process's /proc entry belongs to root.
            if _live_uid(entry) != uid:
                continue
            os.kill(int(entry.name), signal.SIGKILL)
        except (OSError, ValueError):
            continue
        killed += 1
    return killed


async def reap_uid(uid: int, seconds: float = 5.0) -> None:
    """Kill the processes of ``uid`` until none is alive (zombies are init's to reap)."""
    # No event tells us that processes outside our tree ended: poll /proc, briefly.
    deadline = asyncio.get_running_loop().time() + seconds
    for _ in range(int(seconds * 100)):
        # A sweep reads every process's /proc status: tens of ms on a busy machine, so it runs
        # in a thread, not on the event loop that serves every socket.
        killed = await asyncio.to_thread(kill_uid, uid)
        if not killed or asyncio.get_running_loop().time() > deadline:
            return
        await asyncio.sleep(0.01)


def _live_uid(entry: Path) -> int | None:
    """The real uid of a live process (None for a zombie: it has already ended)."""
    uid: int | None = None
    for line in (entry / "status").read_text().splitlines():
        if line.startswith("State:") and line.split()[1] in ("Z", "X"):
            return None
        if line.startswith("Uid:"):
            uid = int(line.split()[1])
    return uid
