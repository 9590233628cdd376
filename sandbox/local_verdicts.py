"""How a local step's end reads as a verdict, for a step of its own (sandbox/local_run.py) and
for a case forked inside one (sandbox/local_cases.py): the local backend has no OOM killer or
cgroup to ask, so it reads the step's signal, CPU time and the tail of its stderr."""

from __future__ import annotations

from sandbox.model import Limits

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
