"""Document fan-out benchmark: our server against the Node reference server, in one run.

Design note. For every scenario and every server this script starts a FRESH server process on a
free loopback port (so its RSS peak belongs to that scenario alone), prepares rooms and tokens,
runs the Node load generator ``bench/docs/loadgen.mjs`` (real Yjs documents behind the stock
y-websocket provider, all in one process so send and receive share one clock), samples the
server's RSS (VmRSS of the process and all its children, 20 times a second) and its CPU time
during the measured window, then stops the server. Only loopback addresses are used, every run
is bounded in time and the script stops by itself.

Our server: every client of a room connects to the room's ``demo`` document with the token of
one instructor (only instructors write ``demo``). The run therefore raises
CLASSROOM_MAX_CONNECTIONS_PER_USER and CLASSROOM_MAX_CONNECTIONS_PER_ROOM for the server it starts.

Usage: ``bench/run-docs.sh`` (installs the npm packages first), or
``.venv/bin/python bench/docs_bench.py --help``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
NODE_DIR = ROOT / "bench" / "docs"
PYTHON = ROOT / ".venv" / "bin" / "python"
CLK_TCK = os.sysconf("SC_CLK_TCK")
MEMORY_BUDGET_MIB = 1024
INSTRUCTOR = ("--name", "Bench", "--password-stdin")


@dataclass(frozen=True)
class Scenario:
    key: str
    rooms: int
    clients_per_room: int
    writers_per_room: int
    hz: float

    @property
    def clients(self) -> int:
        return self.rooms * self.clients_per_room


SCENARIOS = {
    "big": Scenario("big", rooms=1, clients_per_room=100, writers_per_room=10, hz=20),
    "many": Scenario("many", rooms=50, clients_per_room=20, writers_per_room=2, hz=5),
}
SERVERS = ("reference", "ours", "ours-tmpfs")
TMPFS = Path("/dev/shm")


@dataclass
class Row:
    server: str
    scenario: Scenario
    result: dict[str, Any]
    rss_peak_mib: float
    hwm_mib: float
    cpu_percent: float | None  # of one core, server process tree, measured window
    others_percent: float | None  # of one core: the machine minus server and load generator


# -- processes -----------------------------------------------------------------------------


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
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            continue
    return total / CLK_TCK


def machine_busy_seconds() -> float:
    """CPU time spent by everything on the machine (all cores), from /proc/stat."""
    with open("/proc/stat") as fh:
        values = [int(v) for v in fh.readline().split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    return (sum(values[:8]) - idle) / CLK_TCK


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


# -- servers ---------------------------------------------------------------------------------


@dataclass
class Target:
    pid: int
    server_url: str
    rooms: list[dict[str, Any]]


@contextmanager
def reference_server(scenario: Scenario, workdir: Path, nice: int) -> Iterator[Target]:
    port = free_port()
    env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port)}
    cmd = ["node", "node_modules/y-websocket/bin/server.js"]
    log = Path(tempfile.mkstemp(prefix=f"reference-{scenario.key}-", suffix=".log", dir=workdir)[1])
    with running(cmd, env, NODE_DIR, log, nice) as proc:
        wait_for_port(port, proc)
        rooms = [{"name": f"{scenario.key}-{i}", "tokens": None} for i in range(scenario.rooms)]
        yield Target(proc.pid, f"ws://127.0.0.1:{port}", rooms)


@contextmanager
def our_server(
    scenario: Scenario, workdir: Path, nice: int, source: Path, data_root: Path | None = None
) -> Iterator[Target]:
    """Our server, run from the checkout ``source`` (``python -m`` imports from its cwd)."""
    port = free_port()
    data_dir = Path(tempfile.mkdtemp(prefix=f"ours-{scenario.key}-", dir=data_root or workdir))
    env = {
        **os.environ,
        "CLASSROOM_DATA_DIR": str(data_dir),
        "CLASSROOM_MAX_CONNECTIONS_PER_USER": "100000",
        "CLASSROOM_MAX_CONNECTIONS_PER_ROOM": "100000",
        "CLASSROOM_SANDBOX": "local",
        "CLASSROOM_LOG_LEVEL": "warning",
    }
    cmd = [str(PYTHON), "-m", "server", "--port", str(port)]
    with running(cmd, env, source, data_dir / "server.log", nice) as proc:
        wait_for_port(port, proc)
        base = f"http://127.0.0.1:{port}"
        password = "bench-password"
        subprocess.run(
            [str(PYTHON), "-m", "server", "create-instructor", "bench@example.org", *INSTRUCTOR],
            input=password + "\n",
            text=True,
            env=env,
            cwd=source,
            check=True,
            capture_output=True,
        )
        login = {"email": "bench@example.org", "password": password}
        token = http_json(base, "POST", "/api/auth/login", login)["token"]
        classroom = http_json(base, "POST", "/api/classrooms", {"title": "Bench"}, token)
        rooms = []
        for i in range(scenario.rooms):
            body = {"title": f"{scenario.key} {i}", "kind": "lesson"}
            room = http_json(base, "POST", f"/api/classrooms/{classroom['id']}/rooms", body, token)
            rooms.append({"name": f"{room['id']}/demo", "tokens": [token]})
        yield Target(proc.pid, f"ws://127.0.0.1:{port}/yjs", rooms)


def http_json(
    base: str, method: str, path: str, body: dict[str, Any], token: str | None = None
) -> dict[str, Any]:
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    request = urllib.request.Request(
        base + path, data=json.dumps(body).encode(), headers=headers, method=method
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        data: dict[str, Any] = json.loads(response.read())
        return data


# -- one measurement ---------------------------------------------------------------------------


def measure(server: str, scenario: Scenario, args: argparse.Namespace, workdir: Path) -> Row:
    if server == "reference":
        context = reference_server(scenario, workdir, args.nice)
    else:
        # "ours-tmpfs" keeps the database in memory: the same server without the disk's fsyncs.
        data_root = TMPFS if server == "ours-tmpfs" else None
        context = our_server(scenario, workdir, args.nice, args.source, data_root)
    with context as target:
        config = {
            "serverUrl": target.server_url,
            "rooms": target.rooms,
            "clientsPerRoom": scenario.clients_per_room,
            "writersPerRoom": scenario.writers_per_room,
            "hz": scenario.hz,
            "warmupSeconds": args.warmup,
            "durationSeconds": args.duration,
            "drainSeconds": args.drain,
            "timeline": args.timeline,
            "awareness": args.awareness,
        }
        fd, name = tempfile.mkstemp(prefix=f"{server}-{scenario.key}-", suffix=".json", dir=workdir)
        config_path = Path(name)
        with os.fdopen(fd, "w") as fh:
            json.dump(config, fh)
        print(f"  {server}/{scenario.key}: server pid {target.pid}", file=sys.stderr, flush=True)
        sampler = RssSampler(target.pid)
        sampler.start()
        cpu: dict[str, tuple[float, float, float, float]] = {}
        loadgen = subprocess.Popen(
            niced(["node", "loadgen.mjs", str(config_path)], args.nice),
            cwd=NODE_DIR,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert loadgen.stderr is not None and loadgen.stdout is not None
        # Bounded: connecting (60 s at most), warm-up, window, drain, and a margin.
        deadline = 60 + args.warmup + args.duration + args.drain + 60
        watchdog = threading.Timer(deadline, loadgen.kill)
        watchdog.start()
        try:
            for line in loadgen.stderr:
                # The window's edges are announced on stderr; read the CPU times there.
                if line.startswith("[loadgen] window "):
                    edge = line.split()[-1]
                    cpu[edge] = (
                        time.monotonic(),
                        cpu_seconds(process_tree(target.pid)),
                        cpu_seconds([loadgen.pid]),
                        machine_busy_seconds(),
                    )
                elif args.verbose or "window" not in line:
                    sys.stderr.write(f"  {server}/{scenario.key}: {line}")
            output = loadgen.stdout.read()
            loadgen.wait()
        finally:
            watchdog.cancel()
            if loadgen.poll() is None:
                loadgen.kill()
                loadgen.wait()
            sampler.stop()
    result: dict[str, Any] = json.loads(output) if output.strip() else {"error": "no output"}
    for second in result.get("timeline") or []:
        print(
            "    {server}/{key} second {second:>3}: {count:>6} deliveries, p50 {p50:8.2f} ms, "
            "p99 {p99:8.2f} ms, max {max:8.2f} ms".format(
                server=server, key=scenario.key, **second
            ),
            file=sys.stderr,
        )
    cpu_percent = others_percent = None
    if "open" in cpu and "closed" in cpu:
        (t0, s0, l0, m0), (t1, s1, l1, m1) = cpu["open"], cpu["closed"]
        cpu_percent = 100 * (s1 - s0) / (t1 - t0)
        others_percent = 100 * ((m1 - m0) - (s1 - s0) - (l1 - l0)) / (t1 - t0)
    rss, hwm = sampler.peak_kib / 1024, sampler.hwm_kib / 1024
    return Row(server, scenario, result, rss, hwm, cpu_percent, others_percent)


# -- report ----------------------------------------------------------------------------------

COLUMNS = (
    "server",
    "scenario",
    "clients",
    "writers x Hz",
    "p50 ms",
    "p99 ms",
    "max ms",
    "deliveries/s",
    "expected/s",
    "lost",
    "server CPU %",
    "server RSS peak MiB",
    "loadgen CPU %",
    "loadgen lag p99 ms",
    "others CPU %",
)


def cells(row: Row) -> list[str]:
    s, r = row.scenario, row.result
    head = [row.server, s.key, str(s.clients), f"{s.rooms * s.writers_per_room} x {s.hz:g}"]
    if "error" in r:
        return [*head, f"ERROR: {r['error']}"] + [""] * (len(COLUMNS) - len(head) - 1)
    lat = r["latencyMs"]
    return [
        *head,
        f"{lat['p50']:.2f}",
        f"{lat['p99']:.2f}",
        f"{lat['max']:.1f}",
        f"{r['deliveriesPerSecond']:,.0f}",
        f"{r['expectedPerSecond']:,.0f}",
        str(r["lost"]),
        "-" if row.cpu_percent is None else f"{row.cpu_percent:.0f}",
        f"{row.rss_peak_mib:.0f}",
        f"{r['loadgen']['cpuPercent']:.0f}",
        f"{r['loadgen']['eventLoopDelayP99Ms']:.1f}",
        "-" if row.others_percent is None else f"{row.others_percent:.0f}",
    ]


def text_table(rows: list[Row]) -> str:
    table = [list(COLUMNS)] + [cells(row) for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(COLUMNS))]
    return "\n".join(
        "  ".join(
            c.rjust(w) if i > 1 else c.ljust(w)
            for i, (c, w) in enumerate(zip(line, widths, strict=True))
        )
        for line in table
    )


def markdown_table(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(cells(row)) + " |" for row in rows]
    return "\n".join(lines)


def _latency(row: Row, key: str) -> float:
    value: float = row.result["latencyMs"][key]
    return value


def medians(rows: list[Row]) -> list[Row]:
    """One row per (scenario, server): the median of each figure over the repeated runs."""
    groups: dict[tuple[str, str], list[Row]] = {}
    for row in rows:
        if "error" not in row.result:
            groups.setdefault((row.scenario.key, row.server), []).append(row)
    out = []
    for group in groups.values():

        def med(get: Callable[[Row], float | None], group: list[Row] = group) -> float | None:
            values = [v for v in map(get, group) if v is not None]
            return statistics.median(values) if values else None

        first = group[0]
        result = {
            **first.result,
            "latencyMs": {k: med(partial(_latency, key=k)) for k in ("p50", "p99", "max")},
            "deliveriesPerSecond": med(lambda r: r.result["deliveriesPerSecond"]),
            "expectedPerSecond": med(lambda r: r.result["expectedPerSecond"]),
            "lost": sum(r.result["lost"] for r in group),
            "loadgen": {
                "cpuPercent": med(lambda r: r.result["loadgen"]["cpuPercent"]),
                "eventLoopDelayP99Ms": med(lambda r: r.result["loadgen"]["eventLoopDelayP99Ms"]),
            },
        }
        out.append(
            Row(
                f"{first.server} (median of {len(group)})",
                first.scenario,
                result,
                max(r.rss_peak_mib for r in group),
                max(r.hwm_mib for r in group),
                med(lambda r: r.cpu_percent),
                med(lambda r: r.others_percent),
            )
        )
    return out


def memory_verdict(rows: list[Row]) -> tuple[bool, str]:
    checked = [r for r in rows if r.server == "ours" and r.scenario.clients >= 1000]
    if not checked:
        return True, ""
    worst = max(checked, key=lambda r: r.rss_peak_mib)
    ok = worst.rss_peak_mib <= MEMORY_BUDGET_MIB and "error" not in worst.result
    verdict = "PASS" if ok else "FAIL"
    return ok, (
        f"memory check: our server with {worst.scenario.clients} clients in "
        f"{worst.scenario.rooms} rooms peaked at {worst.rss_peak_mib:.0f} MiB RSS "
        f"(VmHWM sum {worst.hwm_mib:.0f} MiB), budget {MEMORY_BUDGET_MIB} MiB: {verdict}"
    )


# -- main --------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--scenario", action="append", choices=sorted(SCENARIOS), help="default: all, in order"
    )
    parser.add_argument(
        "--server", action="append", choices=SERVERS, help="default: reference and ours"
    )
    parser.add_argument("--duration", type=float, default=20.0, help="measured seconds (20)")
    parser.add_argument("--warmup", type=float, default=3.0, help="writing before measuring (3)")
    parser.add_argument(
        "--drain", type=float, default=10.0, help="longest wait for late updates (10)"
    )
    parser.add_argument(
        "--memory-check",
        action="store_true",
        help="only our server, 1,000 clients in 50 rooms; exit 1 above 1 GiB RSS",
    )
    parser.add_argument(
        "--nice",
        type=int,
        default=-10 if os.geteuid() == 0 else 0,
        help="niceness of the measured processes' autogroup (default -10 as root, else 0);\n"
        "0 leaves them to compete with whatever else runs on the machine",
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs per server, alternating order")
    parser.add_argument(
        "--source",
        type=Path,
        default=ROOT,
        help="checkout to run our server from, e.g. a worktree with a fix (default: this one)",
    )
    parser.add_argument("--markdown", type=Path, help="also write the table there as Markdown")
    parser.add_argument("--keep", action="store_true", help="keep the work dir with server logs")
    parser.add_argument(
        "--awareness",
        choices=("spread", "burst"),
        default="spread",
        help="awareness renewals evenly spread (a class that joined over a while, default)\n"
        "or all clients renewing in the same instant (a class opening one link at once)",
    )
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument(
        "--timeline", action="store_true", help="print latency per second of each run"
    )
    args = parser.parse_args(argv)
    if args.memory_check:
        args.scenario, args.server = ["many"], ["ours"]
    args.scenario = args.scenario or list(SCENARIOS)
    args.server = args.server or ["reference", "ours"]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not (NODE_DIR / "node_modules" / "y-websocket").is_dir():
        print(
            "error: npm packages missing; run bench/run-docs.sh (it runs npm ci)", file=sys.stderr
        )
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="docs-bench-"))
    rows: list[Row] = []
    try:
        with shielded(args.nice) if args.nice else nullcontext():
            runs = itertools.product(args.scenario, range(args.repeat))
            for key, run in runs:
                # Alternate the order so that drifting background load favours neither server.
                for server in args.server if run % 2 == 0 else reversed(args.server):
                    print(f"running {server} / {key} ...", file=sys.stderr, flush=True)
                    rows.append(measure(server, SCENARIOS[key], args, workdir))
                    print("  " + " | ".join(cells(rows[-1])), file=sys.stderr, flush=True)
    finally:
        if args.keep:
            print(f"logs kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(
        f"\nDocument fan-out, {args.duration:g} s measured after {args.warmup:g} s warm-up; "
        f"latency = send to each receiver; {os.cpu_count()} cores\n"
    )
    if args.repeat > 1:
        rows = rows + medians(rows)
    print(text_table(rows))
    ok, verdict = memory_verdict(rows)
    if verdict:
        print("\n" + verdict)
    if args.markdown:
        args.markdown.write_text(
            markdown_table(rows) + ("\n\n" + verdict if verdict else "") + "\n"
        )
    failed = any("error" in row.result for row in rows)
    return 1 if failed or not ok else 0


if __name__ == "__main__":
    sys.exit(main())
