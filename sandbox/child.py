"""One child process group on this host, for the local backend.

Started by the backend's launcher (:mod:`sandbox.launcher`, through
:class:`sandbox.spawner.Spawner`) in its own session (so ``killpg`` reaches the whole group)
with rlimits set before the command starts, read through non-blocking pipes on the event loop.
The launcher forks the command, so that its CPU time and peak memory are its own (a process
forked from the server would count the server's resident set as its own peak: Linux keeps
``ru_maxrss`` across ``execve``), and writes how it ended on a status pipe, whose end is the
step's end.

When the child runs under a uid of its own (the backend runs as root and hands each run a
distinct uid), :meth:`Child.kill` also sweeps every process of that uid: a process that
called ``setsid()`` has left the group, but it cannot leave its uid.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import resource
import shutil
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO, Any

from sandbox.model import Stream
from sandbox.spawner import Spawner

log = logging.getLogger("classroom.sandbox")

OnOutput = Callable[[Stream, bytes], None]

# After the leader exits, leftovers are killed; their pipe ends then close at once. The bound
# only matters for a process that escaped both the group and the uid sweep (non-root, no bwrap).
_DRAIN_SECONDS = 2.0
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
    exited: bool = False
    """The step launcher saw its command exit, not die by a signal (False when it could not
    say). Under bubblewrap the command is bwrap, which exits only after its pid 1 has ended;
    see :mod:`sandbox.local_run` for what that tells of the pid namespace."""


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
    """A started process group. Call :meth:`wait` once; :meth:`kill` any time, repeatedly."""

    def __init__(self, pid: int, uid: int | None, status: int) -> None:
        self.pid = pid
        self._status = status  # the status pipe's read end: its end is the step's end
        self._uid = uid  # whose processes kill() sweeps (None: the group only)
        self._readers: list[_Reader] = []
        self._transports: list[asyncio.BaseTransport] = []
        self._stdin: asyncio.WriteTransport | None = None
        self._exited = False
        self.killed = False
        """:meth:`kill` sent SIGKILL before the step's end was seen: the end is not its own."""

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
        spawner: Spawner,
        sweep_uid: bool = True,
    ) -> Child:
        """Start ``argv`` through ``spawner``'s launcher. Raises ``OSError`` when it cannot be
        executed.

        ``sweep_uid`` False: :meth:`kill` kills the group only, not every process of ``uid``
        (under bubblewrap the run is a pid namespace of its own, which dies with its pid 1)."""
        loop = asyncio.get_running_loop()
        # The launcher execs the command; say here what exec would have said.
        found: str | None = None
        if argv:
            found = argv[0] if "/" in argv[0] else shutil.which(argv[0], path=env.get("PATH"))
        if found is None or not os.access(os.path.join(cwd, found), os.X_OK):
            raise FileNotFoundError(f"cannot run {argv[0] if argv else '(nothing)'}: not found")
        stdin_read, stdin_write = os.pipe()
        out_read, out_write = os.pipe()
        err_read, err_write = os.pipe()
        status_read, status_write = os.pipe()
        ours = (stdin_write, out_read, err_read, status_read)
        try:
            pid = await spawner.spawn(
                argv,
                env=env,
                cwd=cwd,
                uid=uid,
                niceness=RUN_NICENESS,
                limits=launcher_limits(rlimits),
                stdio=(stdin_read, out_write, err_write, status_write),
                pass_fds=pass_fds,
            )
        except BaseException:
            for fd in ours:
                os.close(fd)
            raise
        finally:
            for fd in (stdin_read, out_write, err_write, status_write):
                os.close(fd)
        child = cls(pid, uid if sweep_uid else None, status_read)
        for stream, fd in (("stdout", out_read), ("stderr", err_read)):
            reader = _Reader(stream, on_output)  # type: ignore[arg-type]
            transport, _ = await loop.connect_read_pipe(
                lambda r=reader: r,  # type: ignore[misc]
                for_the_loop(loop, io.FileIO(fd, "rb")),
            )
            child._readers.append(reader)
            child._transports.append(transport)
        stdin, _ = await loop.connect_write_pipe(
            asyncio.Protocol,
            for_the_loop(loop, io.FileIO(stdin_write, "wb")),
        )
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
            self.killed = True
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                # Killed just after the spawn, the step launcher may not lead its group yet
                # (its setsid() is its first step): it alone, then, and the launcher kills what
                # is left of its group when it ends (sandbox/launcher.py).
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(self.pid, signal.SIGKILL)
            except PermissionError:
                pass
        if self._uid is not None:
            kill_uid(self._uid)

    async def wait(self) -> Exit:
        """The step's end: its status pipe's end, once the launcher has reaped it and killed
        what was left of its group."""
        said = await _read_to_end(self._status)
        self._exited = True
        if self._uid is not None:
            # One sweep can miss a process forked while it ran (its parent dies in that very
            # sweep): sweep until none is left, so no leftover holds the output pipes open.
            # The sweeps read every process's /proc status: in a thread, never on the loop.
            await reap_uid(self._uid)
        report, launcher = _parse_status(said)
        if launcher is not None:
            code = os.waitstatus_to_exitcode(launcher[0])
        elif report is not None:  # the launcher process died before it could tell
            code = os.waitstatus_to_exitcode(report[2])
        else:
            log.warning("step %s: neither it nor its launcher said how it ended", self.pid)
            code = -signal.SIGKILL
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
        if report is None:  # the step launcher was killed with its command: its own CPU time
            return Exit(code, sig, launcher[1] * 1000.0 if launcher else 0.0, None)
        maxrss_kib, cpu_seconds, status = report
        return Exit(code, sig, cpu_seconds * 1000.0, maxrss_kib * 1024, os.WIFEXITED(status))


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


async def _read_to_end(fd: int) -> bytes:
    """What is written on the pipe ``fd`` until its last writer closes it; ``fd`` closed."""
    loop = asyncio.get_running_loop()
    data = bytearray()
    ended = loop.create_future()

    def readable() -> None:
        try:
            chunk = os.read(fd, 4096)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if chunk:
            data.extend(chunk)
        elif not ended.done():
            ended.set_result(None)

    os.set_blocking(fd, False)
    try:
        loop.add_reader(fd, readable)
        try:
            await ended
        finally:
            loop.remove_reader(fd)
    finally:
        os.close(fd)
    return bytes(data)


def _parse_status(said: bytes) -> tuple[tuple[int, float, int] | None, tuple[int, float] | None]:
    """The step launcher's report (the command's ``maxrss_kib``, CPU seconds and wait status)
    and the launcher process's line about the step launcher (its wait status and CPU seconds),
    each None when missing (see :mod:`sandbox.launcher`)."""
    report: tuple[int, float, int] | None = None
    launcher: tuple[int, float] | None = None
    for line in said.decode("ascii", "replace").splitlines():
        fields = line.split()
        try:
            if len(fields) == 3 and fields[0] == "exit":
                launcher = int(fields[1]), float(fields[2])
            elif len(fields) == 4:
                maxrss, utime, stime, status = fields
                report = int(maxrss), float(utime) + float(stime), int(status)
        except ValueError:
            continue
    return report, launcher


def _signal_name(number: int) -> str | None:
    try:
        return signal.Signals(number).name
    except ValueError:
        return None


def kill_uid(uid: int) -> int:
    """SIGKILL every live process whose real uid is ``uid`` (one pass). Returns how many."""
    killed = 0
    for name in os.listdir("/proc"):
        # Not st_uid: a non-dumpable process's /proc entry belongs to root.
        if not name.isdigit() or _live_uid(name) != uid:
            continue
        try:
            os.kill(int(name), signal.SIGKILL)
        except OSError:
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


def _live_uid(pid: str) -> int | None:
    """The real uid of a live process (None for a zombie, or a process already gone).

    A sweep reads this for every process of the host, for every step of every run: so the
    bytes of its first lines, not the decoded and split text (2.6 → 1.0 ms a sweep of 84
    processes here)."""
    try:
        fd = os.open(f"/proc/{pid}/status", os.O_RDONLY)
    except OSError:
        return None
    try:
        head = os.read(fd, 4096)
    except OSError:
        return None
    finally:
        os.close(fd)
    state, uid = head.find(b"\nState:\t"), head.find(b"\nUid:\t")
    if state < 0 or uid < 0 or head[state + 8 : state + 9] in (b"Z", b"X"):
        return None
    end = head.find(b"\t", uid + 6)
    return int(head[uid + 6 : end]) if end > uid + 6 and head[uid + 6 : end].isdigit() else None
