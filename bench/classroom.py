"""A class of 300 students in 10 rooms, simulated against real server processes.

    .venv/bin/python bench/classroom.py [--students 300] [--rooms 10] [--duration 60]
        [--warmup 10] [--processes 1|2|both] [--placement hashed|spread|both]
        [--sandbox local|docker] [--generators 1] [--source DIR] [--seed 1] [--json PATH]

For each deployment (``--processes``: one server on SQLite; two servers on a private
PostgreSQL database and a private Redis, runs through a sandbox worker; ``both``: one then the
other) it starts fresh processes (``classroom_servers.py``), makes the class through the API
(``classroom_setup.py``), starts ``--generators`` load generator processes
(``classroom_load.py``: real sockets on loopback) and, over the measured window, samples the
CPU and memory of every process from /proc. It prints one table with a column per deployment
(``classroom_report.py``) and what the second process adds. Exit status 1 if a target is missed.

With two servers, ``--placement`` says which server each socket reaches: ``hashed`` (the
default) as behind the load balancer of ``deploy/``, a document's sockets and a room's events
sockets on one server by a hash of the path; ``spread``, the instructor's sockets on the first
server and each room's students alternating between the two, so that half the documents have
their writer on one server and their live view on the other (every update crosses Redis);
``both``, one then the other.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from classroom_metrics import LOOP_LAG_METRIC, loop_lag, merge, percentile, summary, verdicts
from classroom_report import second_process, table
from classroom_servers import PYTHON, ROOT, Deployment, deployment, postgres_backends
from classroom_setup import make_class
from histograms import buckets_of, scrape
from processes import CLK_TCK, cpu_seconds, machine_busy_seconds, process_tree, shielded, status_kib

HERE = Path(__file__).resolve().parent


class Sampler(threading.Thread):
    """CPU seconds and VmRSS of some processes, every ``interval`` s until stopped."""

    def __init__(self, pids: dict[str, int], interval: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.pids = pids
        self.interval = interval
        self.rss: dict[str, list[int]] = {name: [] for name in pids}
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            for name, pid in self.pids.items():
                self.rss[name].append(status_kib(pid, "VmRSS"))
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def children_seconds(pid: int) -> float:
    """CPU time of the waited-for children of ``pid`` (cutime + cstime): the sandbox runs,
    which come and go between two samples of the process tree."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[13]) + int(fields[14])) / CLK_TCK


def tree_seconds(pids: list[int]) -> float:
    """CPU time of ``pids`` and of every child they have waited for. The local sandbox's steps
    are waited for by its launcher (sandbox/launcher.py), a child of the server or worker, so
    a step's time moves into the launcher's count when it ends, not into the server's."""
    return cpu_seconds(pids) + sum(children_seconds(pid) for pid in pids)


def cpu_marks(target: Deployment, generators: list[subprocess.Popen[str]]) -> dict[str, float]:
    """CPU seconds so far: each server's own process, its children (local sandbox runs), the
    helpers with their children, each generator, and the whole machine."""
    marks: dict[str, float] = {"machine": machine_busy_seconds()}
    for index, server in enumerate(target.servers):
        marks[f"server {index}"] = cpu_seconds([server.pid])
        if len(target.servers) == 1:  # the local sandbox's runs are the server's children
            tree = process_tree(server.pid)
            marks["sandbox runs (server's children)"] = tree_seconds(tree[1:]) + children_seconds(
                server.pid
            )
    for name, pid in target.helpers.items():
        marks[name] = tree_seconds(process_tree(pid))
    if target.database == "postgresql":
        # The servers' and the worker's connections are pooled: the same backends at both
        # edges of the window.
        backends = postgres_backends(target.env["CLASSROOM_DATABASE_URL"])
        marks["postgresql (this database's backends)"] = cpu_seconds(backends)
    for index, gen in enumerate(generators):
        marks[f"generator {index}"] = cpu_seconds([gen.pid])
    return marks


def lag_marks(target: Deployment) -> list[dict[float, float] | None]:
    """Each server's loop-lag histogram now (None where its /metrics cannot be read)."""
    marks: list[dict[float, float] | None] = []
    for server in target.servers:
        text = scrape(f"{server.http}/metrics")
        marks.append(None if text is None else buckets_of(text, LOOP_LAG_METRIC))
    return marks


def wait_line(proc: subprocess.Popen[str], expected: str, timeout: float) -> None:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"a load generator exited ({proc.wait()}) before {expected!r}")
        if line.strip() == expected:
            return
        print(f"  generator: {line.rstrip()}", file=sys.stderr)
    raise RuntimeError(f"no {expected!r} from a load generator in {timeout:.0f} s")


def measure(args: argparse.Namespace, processes: int, placement: str) -> dict[str, Any]:
    label = "one process, SQLite"
    if processes > 1:
        label = f"two processes, PostgreSQL + Redis, sockets {placement}"
    print(f"== {label}: {args.students} students in {args.rooms} rooms", file=sys.stderr)
    extra = dict(item.split("=", 1) for item in args.server_env)
    with deployment(processes, args.sandbox, args.source, extra, args.keep_logs) as target:
        started = time.monotonic()
        plan = asyncio.run(make_class(target, args.rooms, args.students))
        print(f"  class made in {time.monotonic() - started:.1f} s", file=sys.stderr)
        plan["seed"] = args.seed
        plan["placement"] = placement
        plan["load"] = {
            "warmup": args.warmup, "duration": args.duration, "drain": args.drain,
            "type_hz": args.type_hz, "demo_every": args.demo_every,
            "run_every": args.run_every, "submit_every": args.submit_every,
        }  # fmt: skip
        workdir = Path(tempfile.mkdtemp(prefix="classroom-load-"))
        (workdir / "plan.json").write_text(json.dumps(plan))
        generators = []
        for part in range(args.generators):
            cmd = [str(PYTHON), str(HERE / "classroom_load.py"), str(workdir / "plan.json"),
                   "--part", str(part), "--parts", str(args.generators),
                   "--out", str(workdir / f"result-{part}.json")]  # fmt: skip
            generators.append(
                subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            )
        try:
            started = time.monotonic()
            for gen in generators:
                wait_line(gen, "ready", 900)
            print(f"  sockets open in {time.monotonic() - started:.1f} s", file=sys.stderr)
            t0 = time.monotonic() + 1.0
            for gen in generators:
                assert gen.stdin is not None
                gen.stdin.write(f"go {t0}\n")
                gen.stdin.flush()
            time.sleep(max(0.0, t0 + args.warmup - time.monotonic()))
            before, load_before = cpu_marks(target, generators), load_average()
            lag_before = lag_marks(target)
            pids = {f"server {i}": s.pid for i, s in enumerate(target.servers)}
            sampler = Sampler(pids)
            sampler.start()
            time.sleep(max(0.0, t0 + args.warmup + args.duration - time.monotonic()))
            after, load_after = cpu_marks(target, generators), load_average()
            lag_after = lag_marks(target)
            sampler.stop()
            for gen in generators:
                wait_line(gen, "done", args.drain + 120)
                gen.wait(60)
        finally:
            for gen in generators:
                if gen.poll() is None:
                    gen.kill()
                    gen.wait()
        parts = [
            json.loads((workdir / f"result-{p}.json").read_text()) for p in range(args.generators)
        ]
        shutil.rmtree(workdir, ignore_errors=True)
    merged = merge(parts)
    stats = {metric: summary(values) for metric, values in merged["latencies"].items()}
    span = args.duration

    def pct(name: str) -> float:
        return 100 * (after[name] - before[name]) / span

    servers = []
    for index in range(processes):
        samples = sampler.rss[f"server {index}"] or [0]
        servers.append({
            "name": str(index), "cpu": pct(f"server {index}"),
            "rss_mib": samples[-1] / 1024, "rss_peak_mib": max(samples) / 1024,
            "loop_lag": loop_lag(lag_before[index], lag_after[index]),
        })  # fmt: skip
    helpers = {name: pct(name) for name in after if name not in ("machine",)
               and not name.startswith(("server ", "generator "))}  # fmt: skip
    errors = dict(merged["errors"])
    return {
        "label": label,
        "processes": processes,
        "stats": stats,
        "errors": errors,
        "counts": dict(merged["counts"]),
        "verdicts": verdicts(stats, sum(errors.values())),
        "servers": servers,
        "helpers": helpers,
        "generators": [{"cpu": pct(f"generator {i}")} for i in range(args.generators)],
        "lag_p99": percentile(merged["lag"], 99),
        "lag_max": max(merged["lag"], default=float("nan")),
        "load_before": load_before,
        "load_after": load_after,
        "machine_cores": (after["machine"] - before["machine"]) / span,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("--rooms", type=int, default=10)
    parser.add_argument("--duration", type=float, default=60.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds before the window")
    parser.add_argument("--drain", type=float, default=15.0,
                        help="seconds to wait after the window for its deliveries")  # fmt: skip
    parser.add_argument("--type-hz", type=float, default=3.0, help="keystrokes/s per student")
    parser.add_argument("--demo-every", type=float, default=10.0, help="s between demo moves")
    parser.add_argument("--run-every", type=float, default=30.0, help="s between a student's runs")
    parser.add_argument("--submit-every", type=float, default=60.0,
                        help="s between a student's submissions")  # fmt: skip
    parser.add_argument("--processes", choices=["1", "2", "both"], default="both")
    parser.add_argument(
        "--placement", choices=["hashed", "spread", "both"], default="hashed",
        help="with two servers: each socket by a hash of its path (as the load balancer), or a "
        "room's students alternating between the servers; both: one then the other",
    )  # fmt: skip
    parser.add_argument("--sandbox", choices=["local", "docker"], default="local")
    parser.add_argument("--generators", type=int, default=1, help="load generator processes")
    parser.add_argument("--source", type=Path, default=ROOT,
                        help="run the server from this checkout (default: this one)")  # fmt: skip
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an extra CLASSROOM_* setting for the servers and the worker",
    )
    parser.add_argument("--keep-logs", action="store_true", help="keep the servers' logs")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--nice",
        type=int,
        default=-10 if os.geteuid() == 0 else 0,
        help="autogroup niceness of the measured processes (default -10 as root, see "
        "processes.shielded: shields them from other sessions' jobs on a shared machine)",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    args.source = args.source.resolve()
    args.generators = max(1, min(args.generators, args.rooms))
    counts = [1, 2] if args.processes == "both" else [int(args.processes)]
    placements = ["hashed", "spread"] if args.placement == "both" else [args.placement]
    modes = [(n, p) for n in counts for p in (placements if n > 1 else ["hashed"])]
    print(f"load average at the start: {load_average()} ({os.cpu_count()} cores)", file=sys.stderr)
    with shielded(args.nice) if args.nice else contextlib.nullcontext():
        results = [measure(args, processes, placement) for processes, placement in modes]
    print(table(results))
    if results[0]["processes"] == 1:
        for two in results[1:]:
            print()
            print(f"{two['label']}:")
            print(second_process(results[0], two))
    if args.json:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                         "results": results}, indent=1))  # fmt: skip
    return 0 if all(all(r["verdicts"].values()) for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
