"""The case loop of a graded Python run, in one interpreter that forks a process per case.

A graded run puts every case of a submission in one container (:mod:`sandbox.wrapper`). The
wrapper's loop starts the program afresh for each case; for Python that is an interpreter
start per case, about 15 ms of CPU here (most of a three-case submission's cost). For Python
runs with cases the wrapper instead replaces itself (``exec``) with this program: ``python3 -u
.cases/run.py entry limit ncase [n args...]...`` (the file comes in the run's archive), the
nonce the one line of its stdin, stderr the run's stderr. It keeps the wrapper's contract,
trailer for trailer, so :mod:`sandbox.cases` reads it unchanged:

1. It makes itself non-dumpable (``prctl``): a case runs as the same user, and could otherwise
   ``ptrace`` this process or write its memory through ``/proc``, and so skip the kill between
   cases. A case may still signal it; if it dies, the container's main process is gone and the
   run ends as killed (the cases after it take that verdict, :mod:`sandbox.cases` rule 2).
2. For each case: the *case* trailer on both streams, the CPU reading, a ``fork``. The child is
   the case: a new process, its stdin ``.cases/<n>``, ``sys.argv`` the entry and the case's
   args, a fresh ``__main__`` module, the entry compiled and run as ``python3 -u entry`` would
   run it (``SystemExit``, tracebacks without this program's frames, then non-daemon threads,
   ``atexit`` and the flush, and the exit status). The parent kills it at the per-case limit
   (SIGKILL: exit 137, as ``timeout -s KILL``), then kills every other process of the user
   (``kill(-1)`` spares only the caller and the container's init), then writes the *done*
   trailer with the exit code, CPU, memory and wall time.
3. The *usage* trailer, then ``sleep infinity`` in its place, as the wrapper does.

The child is forked from an interpreter that has run no submitted code, so what a case sees
is what a fresh start shows it, but for the hash seed (shared by the cases of one run),
``sys.orig_argv``, and two levels less of recursion before ``RecursionError`` (996 calls
deep instead of 998 at the default limit: this program's top level and its ``exec``).

The nonce is in this process's memory, and so in the child's: as with the wrapper, a case
that finds it can print a trailer, which the real one then follows, and the case is marked
tampered.

This file must run on the sandbox image's Python (3.11 on Debian bookworm) with nothing but
the standard library, and import as little as it can: what it imports, every case has loaded.
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # not signal: its enums cost ~6 ms a start
import os
import sys
import time

TYPE_CHECKING = False  # typing is not imported at run time: every case would carry it
if TYPE_CHECKING:
    from typing import Any

CGROUP = "/sys/fs/cgroup"
RUNNER = __file__  # absolute: this program's frames, left out of a case's tracebacks
PR_SET_DUMPABLE = 4


def _read(path: str) -> str:
    with open(path) as file:
        return file.read().strip()


def usage() -> tuple[str, str, str]:
    """CPU (ns), peak memory (bytes) and OOM count of the container's cgroup, as strings; the
    wrapper's ``usage`` for cgroup v1 and v2."""
    cpu, peak, fail = "-", "-", "0"
    if os.access(f"{CGROUP}/cpuacct/cpuacct.usage", os.R_OK):
        cpu = _read(f"{CGROUP}/cpuacct/cpuacct.usage")
        peak = _read(f"{CGROUP}/memory/memory.max_usage_in_bytes")
        fail = _read(f"{CGROUP}/memory/memory.failcnt")
    elif os.access(f"{CGROUP}/cpu.stat", os.R_OK):
        for line in _read(f"{CGROUP}/cpu.stat").splitlines():
            key, _, value = line.partition(" ")
            if key == "usage_usec":
                cpu = value + "000"
        if os.access(f"{CGROUP}/memory.peak", os.R_OK):
            peak = _read(f"{CGROUP}/memory.peak")
        for line in _read(f"{CGROUP}/memory.events").splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                fail = value
    return cpu, peak, fail


def prctl_function() -> Any:
    """libc's ``prctl``, through ``_ctypes``."""
    import _ctypes  # the C part only: ``import ctypes`` costs ~9 ms here

    class Int(_ctypes._SimpleCData):  # type: ignore[type-arg]
        _type_ = "i"

    class Function(_ctypes.CFuncPtr):
        _flags_ = _ctypes.FUNCFLAG_CDECL
        _restype_ = Int

    return Function(_ctypes.dlsym(_ctypes.dlopen(None), "prctl"))  # type: ignore[arg-type]


def set_dumpable(prctl: Any, value: int) -> None:
    if prctl(PR_SET_DUMPABLE, value, 0, 0, 0) != 0:
        raise OSError("prctl(PR_SET_DUMPABLE) failed")


def kill_the_rest() -> None:
    try:  # noqa: SIM105 (contextlib: one more module in every case)
        os.kill(-1, _signal.SIGKILL)
    except ProcessLookupError:
        pass


def exit_status(code: object) -> int:
    """What ``sys.exit(code)`` makes the process's status, as Python's own exit does."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    try:  # noqa: SIM105
        sys.stderr.write(f"{code}\n")
    except Exception:
        pass
    return 1


def prepare(prctl: Any, entry: str, args: list[str], number: int) -> str:
    """In the child: the process a fresh ``python3 -u entry *args`` would be, but for the
    code not yet run. Returns the entry's path."""
    set_dumpable(prctl, 1)  # its own /proc/self files readable, as in a fresh process
    _signal.signal(_signal.SIGALRM, _signal.SIG_DFL)
    fd = os.open(f".cases/{number}", os.O_RDONLY)
    os.dup2(fd, 0)
    os.close(fd)
    path = os.path.abspath(entry)
    sys.argv = [entry, *args]
    sys.path[0] = os.path.dirname(path)
    main = type(sys)("__main__")
    main.__file__ = path
    main.__builtins__ = __builtins__  # type: ignore[attr-defined]
    main.__spec__ = None
    main.__loader__ = sys.modules["_frozen_importlib_external"].SourceFileLoader("__main__", path)
    sys.modules["__main__"] = main
    return path


def failed(exc: BaseException) -> int:
    """The status an uncaught exception gives, reported as Python reports it."""
    if isinstance(exc, SystemExit):
        return exit_status(exc.code)
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == RUNNER:
        tb = tb.tb_next  # this program's frames, which a fresh start does not have
    sys.excepthook(type(exc), exc.with_traceback(tb), tb)
    return 1


def finish(status: int) -> int:
    """Python's own finalization, in its order: threads, ``atexit``, the flush."""
    threading = sys.modules.get("threading")
    try:
        if threading is not None:
            threading._shutdown()
    except SystemExit as exc:
        status = exit_status(exc.code)
    except BaseException:
        pass
    import atexit

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            if status == 0:
                status = 120
    return status


def wait(pid: int, seconds: float) -> int:
    """The child's exit code after at most ``seconds`` (SIGKILL then, as ``timeout`` does)."""

    def expired(*_: object) -> None:
        try:  # noqa: SIM105
            os.kill(pid, _signal.SIGKILL)
        except ProcessLookupError:
            pass

    _signal.signal(_signal.SIGALRM, expired)
    if seconds > 0:
        _signal.setitimer(_signal.ITIMER_REAL, seconds)
    try:
        _, status = os.waitpid(pid, 0)
    finally:
        _signal.setitimer(_signal.ITIMER_REAL, 0)
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def cases(argv: list[str]) -> list[list[str]]:
    count, rest, out = int(argv[0]), argv[1:], []
    for _ in range(count):
        n = int(rest[0])
        out.append(rest[1 : 1 + n])
        rest = rest[1 + n :]
    return out


def trailer(line: str) -> None:
    """On both streams, stderr first, as the wrapper writes them."""
    data = line.encode()
    os.write(2, data)
    os.write(1, data)


def main() -> tuple[Any, str, list[str], int]:
    nonce = os.read(0, 64).decode().strip()  # not in argv or the environment: /proc shows them
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    prctl = prctl_function()
    set_dumpable(prctl, 0)
    entry, seconds = sys.argv[1], float(sys.argv[2])
    mark = f"\x1e{nonce}"
    for number, args in enumerate(cases(sys.argv[3:])):
        trailer(f"{mark} case {number}\n")
        before = usage()[0]
        started = time.time_ns() // 1000
        pid = os.fork()
        if pid == 0:
            os.close(null)  # the case's descriptors are 0, 1 and 2, as in a fresh start
            return prctl, entry, args, number
        code = wait(pid, seconds)
        wall = time.time_ns() // 1000 - started
        kill_the_rest()
        cpu, peak, fail = usage()
        trailer(f"{mark} done {number} {code} {before} {cpu} {peak} {fail} {wall}\n")
    before = usage()[0]
    kill_the_rest()
    cpu, peak, fail = usage()
    trailer(f"{mark} usage 0 {before} {cpu} {peak} {fail}\n")
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.execvp("sleep", ["sleep", "infinity"])


if __name__ == "__main__":
    # Only a case's child comes back from main(). It runs the code here, at the top level, so
    # that the code's frames start one deep (a fresh start: none), not one per function.
    CASE, STATUS, INTERRUPTED = main(), 1, False
    try:
        PATH = prepare(*CASE)
        with open(PATH, "rb") as FILE:
            SOURCE = FILE.read()
        try:
            CODE = compile(SOURCE, PATH, "exec", dont_inherit=True)  # not our __future__
            exec(CODE, sys.modules["__main__"].__dict__)
            STATUS = 0
        except BaseException as EXC:
            STATUS, INTERRUPTED = failed(EXC), isinstance(EXC, KeyboardInterrupt)
            del EXC
        STATUS = finish(STATUS)
        if INTERRUPTED:  # as Python does: die of the signal once finished
            _signal.signal(_signal.SIGINT, _signal.SIG_DFL)
            os.kill(os.getpid(), _signal.SIGINT)
    finally:
        os._exit(STATUS)
