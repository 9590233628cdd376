"""How a local step's end reads as a verdict, for a step of its own (sandbox/local_run.py) and
for a case forked inside one (sandbox/local_cases.py): the local backend has no OOM killer or
cgroup to ask, so it reads the step's signal, CPU time and the tail of its stderr.

A runtime can also fail for want of memory without saying so. RLIMIT_DATA counts a thread's
stack when it is mapped, not when it is used, and a thread's stack is as big as RLIMIT_STACK
(8 MiB); Node 20 starts six threads. Below 12 MB here its first one cannot be started, and
Node says so in an assertion (one of the markers below). From 12 to 40 MB a later one cannot,
and Node neither starts nor fails: its main thread waits on a futex for a thread that never
came, and the step would end at the time limit as ``timeout``. So when the
time limit ends a step, :func:`stalled_for_memory` looks at its processes first: one whose
main thread waits on a futex while its data is within a thread's stack of the limit is taken
for out of memory. (A program that fills its memory to that point and then waits on a lock
for ever reads so too; one that sleeps, polls or computes does not.) The look is on the loop's
thread, once per step the time limit ends, before the kill (a step that ended by itself does
not wait for it): about 1 ms for a stalled Node here, and bounded, whatever the program forked
or started (:func:`_descendants`)."""

from __future__ import annotations

import contextlib
import os

from sandbox.model import Limits

# glibc's thread stack on x86-64 when RLIMIT_STACK is unlimited (its ARCH_STACK_DEFAULT_SIZE).
_UNLIMITED_STACK_THREAD = 2 * 1024 * 1024
_MAX_PROCESSES = 64
_MAX_THREADS = 256

# What a runtime prints when an allocation fails under RLIMIT_DATA, in the tail of stderr.
# V8 (Node 20) words its own failures "JavaScript heap out of memory", "Allocation failed -
# process out of memory", "Fatal process out of memory: …" and, when the limit stops it while
# it unpacks its startup snapshot, "Fatal javascript OOM in …" (older V8: "Fatal process OOM").
_MEMORY_MARKERS = (
    "MemoryError",
    "std::bad_alloc",
    "heap out of memory",
    "process out of memory",
    "Array buffer allocation failed",
    "Fatal process OOM",
    "Fatal javascript OOM",
    "runtime: out of memory",
    "memory allocation of",
    "Cannot allocate memory",
    # Node 20 when RLIMIT_DATA leaves no room for its platform's first thread's stack.
    "== (uv_thread_create(",
)


def out_of_memory(stderr: str) -> bool:
    """Whether the end of a step's stderr says an allocation failed."""
    tail = stderr[-2000:]
    return any(marker in tail for marker in _MEMORY_MARKERS)


def cpu_limit_reached(signal: str | None, cpu_ms: float | None, limits: Limits) -> bool:
    """Whether RLIMIT_CPU ended it: SIGXCPU at the soft limit, SIGKILL at the hard one."""
    cpu_limit_ms = (int(limits.time_seconds) + 1) * 1000
    return signal == "SIGXCPU" or (signal == "SIGKILL" and (cpu_ms or 0) >= cpu_limit_ms)


def time_limit_message(limits: Limits) -> str:
    return f"time limit of {limits.time_seconds:g}s reached"


def stalled_for_memory(pid: int, data_limit: int) -> bool:
    """Whether a process of the step led by ``pid`` (its launcher) waits on a futex with too
    little room under ``data_limit`` (RLIMIT_DATA, bytes) to map another thread's stack.
    False when ``/proc`` cannot tell (another uid's ``wchan`` reads as 0 without privilege)."""
    for proc in _descendants(pid):
        data = _status_kib(proc, "VmData")
        if data is None or data * 1024 + _thread_stack(proc) <= data_limit:
            continue
        if "futex" in _read(f"/proc/{proc}/wchan"):
            return True
    return False


def _descendants(pid: int) -> list[int]:
    """The processes under ``pid``, from the ``children`` of each of their threads: at most
    :data:`_MAX_PROCESSES`, reading at most :data:`_MAX_THREADS` threads' lists (without
    RLIMIT_NPROC, a server that is not root, a program may start thousands of threads)."""
    found: list[int] = []
    pending = [pid]
    budget = _MAX_THREADS
    while pending and len(found) < _MAX_PROCESSES and budget > 0:
        parent = pending.pop()
        with contextlib.suppress(OSError), os.scandir(f"/proc/{parent}/task") as tasks:
            for task in tasks:
                budget -= 1
                if budget < 0:
                    break
                for child in _read(f"/proc/{parent}/task/{task.name}/children").split():
                    found.append(int(child))
                    pending.append(int(child))
    return found[:_MAX_PROCESSES]


def _read(path: str) -> str:
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            return f.read(65536)
    except OSError:
        return ""


def _status_kib(pid: int, field: str) -> int | None:
    for line in _read(f"/proc/{pid}/status").splitlines():
        if line.startswith(field + ":"):
            value = line.split()[1]
            return int(value) if value.isdigit() else None
    return None


def _thread_stack(pid: int) -> int:
    """The stack a new thread of ``pid`` maps: its soft RLIMIT_STACK."""
    for line in _read(f"/proc/{pid}/limits").splitlines():
        if line.startswith("Max stack size"):
            soft = line[len("Max stack size") :].split()[0]
            return int(soft) if soft.isdigit() else _UNLIMITED_STACK_THREAD
    return _UNLIMITED_STACK_THREAD
