"""Processes for the benchmarks, read from /proc: start and stop a server, wait for its port,
sum the RSS and CPU time of its process tree, shield the measured processes from the rest of
a shared machine. Linux only."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with status {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f} s")


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants, read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                # The command name may hold spaces; the fields after its ')' do not.
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def status_kib(pid: int, field: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pids: list[int]) -> float:
    user, system = cpu_split_seconds(pids)
    return user + system


def cpu_split_seconds(pids: list[int]) -> tuple[float, float]:
    """The CPU time of ``pids`` in user space and in the kernel, in seconds."""
    user = system = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            user, system = user + int(fields[11]), system + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            continue
    return user / CLK_TCK, system / CLK_TCK


def machine_busy_seconds() -> float:
    """CPU time spent by everything on the machine (all cores), from /proc/stat."""
    with open("/proc/stat") as fh:
        values = [int(v) for v in fh.readline().split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    return (sum(values[:8]) - idle) / CLK_TCK


def pin(pid: int, cpu: int) -> None:
    """Keep every thread of ``pid`` and of its descendants on CPU ``cpu`` (threads started
    later inherit it from the thread that starts them)."""
    for process in process_tree(pid):
        try:
            tasks = os.listdir(f"/proc/{process}/task")
        except OSError:
            continue
        for task in tasks:
            with contextlib.suppress(OSError):
                os.sched_setaffinity(int(task), {cpu})


def niced(cmd: list[str], nice: int) -> list[str]:
    # A negative niceness shields the measured processes from whatever else runs on the
    # machine (a shared 2-core box); both servers and the load generator get the same.
    return ["nice", "-n", str(nice), *cmd] if nice else cmd


@contextmanager
def shielded(nice: int) -> Iterator[None]:
    """Give this session's scheduler autogroup the niceness ``nice`` meanwhile (root for < 0).

    With autogroups on (the default of most kernels), the CPU is first shared between
    sessions and only then between the processes of one session, so a process niceness alone
    does not shield the measured processes from other sessions' work. Restored afterwards.
    """
    path = Path("/proc/self/autogroup")
    try:
        before = path.read_text().split()[-1]
        path.write_text(str(nice))
    except (OSError, IndexError) as exc:
        print(f"warning: cannot set the autogroup niceness: {exc}", file=sys.stderr)
        yield
        return
    try:
        yield
    finally:
        path.write_text(before)


class RssSampler(threading.Thread):
    """Samples the summed VmRSS of a process tree until stopped; keeps the peak."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.peak_kib = 0
        self.hwm_kib = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            pids = process_tree(self.pid)
            self.peak_kib = max(self.peak_kib, sum(status_kib(p, "VmRSS") for p in pids))
            self.hwm_kib = max(self.hwm_kib, sum(status_kib(p, "VmHWM") for p in pids))
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


@contextmanager
def running(
    cmd: list[str], env: dict[str, str], cwd: Path, log: Path, nice: int
) -> Iterator[subprocess.Popen[bytes]]:
    with open(log, "wb") as out:
        cmd = niced(cmd, nice)
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


CONTAINERS_CPU = (  # cumulative CPU of every container, also of removed ones (cgroup v1 / v2)
    Path("/sys/fs/cgroup/cpuacct/docker/cpuacct.usage"),
    Path("/sys/fs/cgroup/system.slice/cpu.stat"),
)


def containers_cpu_seconds() -> float:
    """CPU seconds so far of every Docker container (NaN where neither cgroup file exists)."""
    for path in CONTAINERS_CPU:
        if path.exists():
            text = path.read_text()
            if path.name == "cpu.stat":
                usec = next(line.split()[1] for line in text.splitlines() if "usage_usec" in line)
                return int(usec) / 1e6
            return int(text) / 1e9
    return float("nan")
