"""Every sandbox container's main process: it reads the payload (:mod:`sandbox.wrapper`), unpacks
the files, compiles, runs the program or each case, and writes the trailers that frame their
output. It runs as the program's user, before the code is known, so that a container can wait in
the warm pool; :mod:`sandbox.docker_run` and :mod:`sandbox.cases` read what it writes.

Two modes, by :attr:`sandbox.languages.Language.forks`:

* **Forking** (Python): ``python3 -u -c <this file>``. A run or case is a ``fork`` of an
  interpreter already up, not a ``python3`` start (about 15 ms of CPU here, most of what a run
  costs its container, and one per case in a graded run). A payload with a compile command, or
  a run command other than ``python3 -u entry [args]``, is refused.
* **Exec** (the other languages): ``python3 -I -S -c <this file> exec``. The compile command,
  then the run command, are started afresh (``posix_spawn``), with the signal dispositions of
  a fresh start (Python ignores SIGPIPE and SIGXFSZ; a C program must die of them).

1. Before it reads anything it makes itself non-dumpable (``prctl``): the program runs as the
   same user, and could otherwise ``ptrace`` it or read and write its memory through
   ``/proc``. It is the pid 1 of its pid namespace (the container's, or the local step's): a
   namespace's pid 1 takes no signal from inside it that it has no handler for, so a program
   can neither kill nor stop it. It ignores SIGINT, SIGTERM, SIGHUP and SIGQUIT besides. Every
   orphan comes to it, and it reaps them while it waits for a program (a zombie still counts
   against the container's process limit) and after each ``kill(-1)``.
2. It reads the payload's fields a byte at a time (what follows the archive is the program's
   stdin), writes the *begun* trailer on stdout (the backend's sign that the container is alive
   and reading) and unpacks the archive with ``tar``; an unpack error ends the container (125).
3. Exec mode, with a compile command: the compiler, stdin ``/dev/null``, its stdout and stderr
   on stderr; then ``kill(-1)`` (every other process of the user: ``kill(-1)`` spares only the
   caller, here pid 1) and the *compiled* trailer on stderr. A failed compile ends
   the container with the compiler's exit code.
4. Without cases: the program with the rest of the container's stdin; the parent waits,
   ``kill(-1)``, and writes the *usage* trailer (exit code, cgroup CPU before and after, peak
   memory, OOM count). With cases, for each case: the *case* trailer, the program with the
   case's args and its stdin ``.cases/<n>`` (all of them are opened and removed before the first
   case, so no case reads another's input, unless they are more than the descriptor limit
   allows), SIGKILL at the per-case limit (exit 137, as ``timeout -s KILL``), ``kill(-1)``, the
   *done* trailer; then the *usage* trailer. Trailers but *begun* and *compiled* go on both
   streams, stderr first: once both are seen, both pipes are drained.
5. ``sleep infinity`` in its place: the container's end (about 40 ms of the engine's CPU) is
   the backend's to time (:meth:`sandbox.docker.DockerBackend.retire_box`), not on the next
   run's path.

The local backend (:mod:`sandbox.local_run`) runs it too, for a graded Python run's cases under
bubblewrap, as ``python3 -u -c <this file> pid1``: the pid 1 of the step's pid namespace, with
the files already in ``/work`` (an archive of size 0). There a case's CPU is its own
(``wait4``: no cgroup is mounted there), and it exits at the end, which ends the namespace.

A forked child becomes the process a fresh ``python3 -u entry args...`` would be: ``sys.argv``,
``sys.path[0]``, descriptors 0, 1 and 2 only, the signal handlers of a fresh start, a fresh
``__main__`` module, the entry compiled apart from this file's ``__future__`` import, then
Python's own ending (``SystemExit``, a traceback without this file's frames, non-daemon
threads, ``atexit``, the flush, the exit status, death by SIGINT after a
``KeyboardInterrupt``). What a program can tell apart from a fresh start: ``sys.orig_argv``,
the few modules this file imported, and two levels less of recursion before
``RecursionError`` (996 calls deep instead of 998 at the default limit: this file's top level
and its ``exec``). The cases of one run share a hash seed; runs do not (a container serves one).

The nonce is held in one buffer, read into it and written from it without a copy (``readv``,
``writev``); a forked child zeroes it before the program starts, and a started one has memory
of its own. A program finds the nonce neither in its own memory nor (non-dumpable) in this
process's, so it cannot write a trailer.

This runs on the image's Python (3.11 on Debian bookworm; every image has ``python3``) with the
standard library only, and imports as little as it can: what it imports, every Python program
has loaded (``_signal``, not ``signal``, whose enums cost ~6 ms; ``_ctypes``, not ``ctypes``:
~9 ms).
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]
import os
import sys
import time

TYPE_CHECKING = False  # typing is not imported at run time: every program would carry it
if TYPE_CHECKING:
    from typing import Any

# As in sandbox/wrapper.py (this file cannot import it; a test holds them equal).
WORKDIR = "/work"
CASES_DIR = ".cases"
BAD_PAYLOAD = 124
UNPACK_FAILED = 125

CGROUP = "/sys/fs/cgroup"
OWN_FILE = "<string>"  # this file's code, run by ``-c``: its frames, left out of tracebacks
PR_SET_DUMPABLE = 4
SHIELDED = (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP, _signal.SIGQUIT)
SPAWN_DEFAULTS = (*SHIELDED, _signal.SIGPIPE, _signal.SIGXFSZ)  # Python ignores the last two
NONCE = bytearray(64)  # "\x1e" and the nonce: the one place this process holds it
PID1 = sys.argv[1:] == ["pid1"]  # the local backend's pid namespace: reap, then exit
EXEC = sys.argv[1:] == ["exec"]  # the run command started afresh, not forked
NOT_FOUND, CANNOT_RUN = 127, 126  # the shell's codes for a command it cannot start
if PID1:
    import resource  # noqa: F401 (os.wait4 imports it: here, before the first case, not after)


def _read(path: str) -> str:
    with open(path) as file:
        return file.read().strip()


def usage() -> tuple[str, str, str]:
    """CPU (ns), peak memory (bytes) and OOM count of the container's cgroup, as strings; the
    same for cgroup v1 and v2."""
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
    import _ctypes

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
    """SIGKILL to every other process of the user, then reap what came to this process: as a
    namespace's pid 1 (a container's, or a local step's), every orphan."""
    try:  # noqa: SIM105 (contextlib: one more module in every program)
        os.kill(-1, _signal.SIGKILL)
    except ProcessLookupError:
        pass
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return
        except InterruptedError:
            continue


def bad_payload(message: str = "") -> SystemExit:
    if message:
        os.write(2, f"sandbox: {message}\n".encode())
    return SystemExit(BAD_PAYLOAD)


def read_nonce() -> memoryview:
    """ "\\x1e" and the nonce field, read into :data:`NONCE` a byte at a time (no copy)."""
    view = memoryview(NONCE)
    view[0] = 0x1E
    for n in range(1, len(NONCE)):
        if os.readv(0, [view[n : n + 1]]) != 1:
            raise bad_payload()
        if NONCE[n] == 0:
            return view[:n]
    raise bad_payload("the nonce is too long")


def read_field() -> str:
    """One NUL-terminated field, decoded as a fresh process decodes its argv."""
    out = bytearray()
    while (byte := os.read(0, 1)) != b"\0":
        if not byte:
            raise bad_payload()
        out += byte
    return os.fsdecode(bytes(out))


def read_argv() -> list[str]:
    return [read_field() for _ in range(int(read_field()))]


def trailer(mark: memoryview, text: str, fds: tuple[int, ...] = (2, 1)) -> None:
    """A trailer line, stderr first."""
    data = text.encode()
    for fd in fds:
        os.writev(fd, [mark, data])


def exit_code(status: int) -> int:
    """A wait status as the shell's ``$?`` (128 + n for death by signal n)."""
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def unpack(size: int) -> bool:
    """The archive (the next ``size`` bytes of stdin) into the work dir, by ``tar``."""
    inlet, outlet = os.pipe()
    argv = ["tar", "-x", "-f", "-", "-C", WORKDIR]
    actions = [(os.POSIX_SPAWN_DUP2, inlet, 0), (os.POSIX_SPAWN_CLOSE, inlet)]
    actions.append((os.POSIX_SPAWN_CLOSE, outlet))
    pid = os.posix_spawnp("tar", argv, os.environ, file_actions=actions, setsigdef=SPAWN_DEFAULTS)
    os.close(inlet)
    try:
        while size > 0 and (data := os.read(0, min(size, 1 << 16))):
            size -= len(data)
            while data:
                data = data[os.write(outlet, data) :]
    except BrokenPipeError:
        pass
    finally:
        os.close(outlet)
    return exit_code(os.waitpid(pid, 0)[1]) == 0 and size == 0


def wait(pid: int, seconds: float) -> tuple[int, int]:
    """The child's exit code and, as pid 1, its CPU in ns (``wait4``: its own and that of the
    descendants it waited for); SIGKILL after ``seconds`` (0: no limit), as ``timeout`` does."""

    def expired(*_: object) -> None:
        try:  # noqa: SIM105
            os.kill(pid, _signal.SIGKILL)
        except ProcessLookupError:
            pass

    _signal.signal(_signal.SIGALRM, expired)
    if seconds > 0:
        _signal.setitimer(_signal.ITIMER_REAL, seconds)
    cpu, reaped = 0, 0
    try:
        # Any child: as pid 1 every orphan comes here, and a zombie would hold a process of
        # the container's limit until the case ends.
        while reaped != pid:
            if PID1:
                reaped, status, rusage = os.wait4(-1, 0)
                cpu = round((rusage.ru_utime + rusage.ru_stime) * 1e9)
            else:
                reaped, status = os.waitpid(-1, 0)
    finally:
        _signal.setitimer(_signal.ITIMER_REAL, 0)
    return exit_code(status), cpu


def start(
    argv: list[str], stdin: int | None = None, stdout: int | None = None, seconds: float = 0.0
) -> tuple[int, int]:
    """Exec mode: runs ``argv`` (``stdin`` and ``stdout`` onto descriptors 0 and 1, if given;
    only 0, 1 and 2 are inherited) and waits for it as :func:`wait` does."""
    actions = [] if stdin is None else [(os.POSIX_SPAWN_DUP2, stdin, 0)]
    if stdout is not None:
        actions.append((os.POSIX_SPAWN_DUP2, stdout, 1))
    try:
        pid = os.posix_spawnp(
            argv[0], argv, os.environ, file_actions=actions, setsigdef=SPAWN_DEFAULTS
        )
    except OSError as exc:
        os.write(2, f"sandbox: {argv[0]}: {exc.strerror}\n".encode())
        return (NOT_FOUND if isinstance(exc, FileNotFoundError) else CANNOT_RUN), 0
    return wait(pid, seconds)


def compile_program(mark: memoryview, null: int, argv: list[str]) -> None:
    """Exec mode: the compiler (its output on stderr), ``kill(-1)``, the *compiled* trailer;
    a failed compile ends the container with the compiler's code."""
    code = start(argv, null, 2)[0]
    kill_the_rest()
    cpu, peak, fail = usage()
    trailer(mark, f" compiled {code} - {cpu} {peak} {fail}\n", (2,))
    if code:
        raise SystemExit(code)


def entry_of(run: list[str]) -> tuple[str, list[str]]:
    """The program's file and args from the run command, which must be ``python3 -u entry``."""
    if run[:2] != ["python3", "-u"] or len(run) < 3:
        raise bad_payload("a Python container runs python3 -u programs only")
    return run[2], run[3:]


def fork_program(null: int, stdins: list[int], stdin: int | None = None) -> int:
    """Forks: the child's pid in the parent; 0 in the child, the nonce zeroed, ``stdin`` (one of
    ``stdins``) its descriptor 0, ``null`` and every one of ``stdins`` closed."""
    pid = os.fork()
    if pid == 0:
        NONCE[:] = bytes(len(NONCE))
        if stdin is not None:
            os.dup2(stdin, 0)
        for fd in (null, *stdins):
            os.close(fd)
    return pid


def take_stdins(count: int) -> list[int]:
    """Opens the cases' stdin files, then removes them: each case gets its own as descriptor 0,
    and none can read another's (this process's descriptors are not readable: non-dumpable).
    More cases than the descriptor limit allows stay files, each opened as its case starts."""
    if count > os.sysconf("SC_OPEN_MAX") - 16:
        return []
    fds = [os.open(f"{CASES_DIR}/{n}", os.O_RDONLY | os.O_CLOEXEC) for n in range(count)]
    for number in range(count):
        os.unlink(f"{CASES_DIR}/{number}")
    if count:
        os.rmdir(CASES_DIR)
    return fds


def main() -> tuple[Any, str, list[str]]:
    """Runs the payload; returns only in a child, with what :func:`prepare` needs."""
    prctl = prctl_function()
    set_dumpable(prctl, 0)
    for number in SHIELDED:
        _signal.signal(number, _signal.SIG_IGN)
    null = os.open(os.devnull, os.O_RDWR)
    mark = read_nonce()
    trailer(mark, " begun\n", (1,))
    size = int(read_field())
    compile_argv, run = read_argv(), read_argv()
    ncase, seconds = int(read_field()), float(read_field())
    all_args = [read_argv() for _ in range(ncase)]
    if size and not unpack(size):
        os.write(2, b"sandbox: cannot unpack the files\n")
        raise SystemExit(UNPACK_FAILED)
    if compile_argv and not EXEC:
        raise bad_payload("a Python container compiles nothing")
    if compile_argv:
        compile_program(mark, null, compile_argv)
    entry, args = ("", []) if EXEC else entry_of(run)
    stdins = take_stdins(ncase)
    for number, case_args in enumerate(all_args):
        trailer(mark, f" case {number}\n")
        before = usage()[0]
        started = time.time_ns() // 1000
        own = stdins[number] if stdins else os.open(f"{CASES_DIR}/{number}", os.O_RDONLY)
        if EXEC:
            code, own_cpu = start([*run, *case_args], own, seconds=seconds)
        elif not (pid := fork_program(null, stdins or [own], own)):
            return prctl, entry, [*args, *case_args]
        else:
            code, own_cpu = wait(pid, seconds)
        if not stdins:
            os.close(own)
        wall = time.time_ns() // 1000 - started
        kill_the_rest()
        cpu, peak, fail = usage()
        if before == "-":  # no cgroup (the local backend): the case's own
            before, cpu = "0", str(own_cpu)
        trailer(mark, f" done {number} {code} {before} {cpu} {peak} {fail} {wall}\n")
    before, code = usage()[0], 0
    if not ncase and EXEC:
        code = start(run)[0]
    elif not ncase:
        if not (pid := fork_program(null, stdins)):
            return prctl, entry, args
        code = wait(pid, 0)[0]
    kill_the_rest()
    cpu, peak, fail = usage()
    trailer(mark, f" usage {code} {before} {cpu} {peak} {fail}\n")
    if PID1:
        os._exit(0)  # the namespace ends with its pid 1
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.execvp("sleep", ["sleep", "infinity"])


def prepare(prctl: Any, entry: str, args: list[str]) -> str:
    """In the child: the process a fresh ``python3 -u entry *args`` would be, but for the code
    not yet run. Returns the entry's path."""
    set_dumpable(prctl, 1)  # its own /proc/self files readable, as in a fresh process
    for number in (*SHIELDED, _signal.SIGALRM):
        _signal.signal(number, _signal.SIG_DFL)
    _signal.signal(_signal.SIGINT, _signal.default_int_handler)
    path = os.path.abspath(entry)
    sys.argv = [entry, *args]
    sys.path[0] = os.path.dirname(path)
    main = type(sys)("__main__")
    main.__file__ = path
    main.__cached__ = None  # type: ignore[attr-defined]
    main.__annotations__ = {}  # as in a fresh start's __main__
    main.__builtins__ = __builtins__  # type: ignore[attr-defined]
    main.__spec__ = None
    main.__loader__ = sys.modules["_frozen_importlib_external"].SourceFileLoader("__main__", path)
    sys.modules["__main__"] = main
    return path


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


def failed(exc: BaseException) -> int:
    """The status an uncaught exception gives, reported as Python reports it."""
    if isinstance(exc, SystemExit):
        return exit_status(exc.code)
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == OWN_FILE:
        tb = tb.tb_next  # this file's frames, which a fresh start does not have
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


if __name__ == "__main__":
    # Only a child comes back from main(). It runs the code here, at the top level, so that
    # the code's frames start one deep (a fresh start: none), not one per function.
    PROGRAM, STATUS, INTERRUPTED = main(), 1, False
    try:
        PATH = prepare(*PROGRAM)
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
