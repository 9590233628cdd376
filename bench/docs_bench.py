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

Modules: ``docs_servers`` (the scenarios and the servers), ``processes`` (process trees, RSS,
CPU time from /proc), ``docs_report`` (rows, tables, medians, the memory verdict, issue 17's
targets against the reference, the warning when the load generator was saturated),
``docs_probe`` (``--probe``: where our server's time goes for each live update),
``docs_counted`` (``--callgrind``: the instructions our server executes per update).

Usage: ``bench/run-docs.sh`` (installs the npm packages first), or
``.venv/bin/python bench/docs_bench.py --help``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from docs_counted import control, counted_command, dumped_instructions, per_update
from docs_probe import probe_env, probe_report
from docs_report import (
    Row,
    Scrape,
    cells,
    cpu_split,
    handoff_between,
    handoff_scrape,
    markdown_report,
    medians,
    memory_verdict,
    saturation_warning,
    target_verdicts,
    text_table,
)
from docs_servers import (
    DEFAULT_SCENARIOS,
    NODE_DIR,
    ROOT,
    SCENARIOS,
    SERVERS,
    TMPFS,
    Scenario,
    our_server,
    reference_server,
    unstored_env,
)
from histograms import scrape
from processes import (
    RssSampler,
    cpu_seconds,
    cpu_split_seconds,
    machine_busy_seconds,
    niced,
    pin,
    process_tree,
    shielded,
)

# -- one measurement ---------------------------------------------------------------------------


# --pin: where the server and the load generator run.
SERVER_CPU = 1
LOADGEN_CPU = 0


def measure(server: str, scenario: Scenario, args: argparse.Namespace, workdir: Path) -> Row:
    probed: Path | None = None  # where our server's probe writes (--probe)
    counted: Path | None = None  # where callgrind writes our server's count (--callgrind)
    if server == "reference":
        context = reference_server(scenario, workdir, args.nice)
    else:
        # "ours-tmpfs" keeps the database in memory: the same server without the disk's fsyncs.
        # "ours-unstored" stores no update: what our path costs without its commit
        # (bench/unstored/sitecustomize.py).
        # "baseline" is our server from another checkout (--baseline), for A/B in one run.
        data_root = TMPFS if server == "ours-tmpfs" else None
        source = args.baseline if server == "baseline" else args.source
        if args.probe:
            fd, name = tempfile.mkstemp(prefix=f"probe-{server}-{scenario.key}-", dir=workdir)
            os.close(fd)
            probed = Path(name)
        extra = probe_env(probed) if probed is not None else None
        if server == "ours-unstored":
            extra = unstored_env()  # --probe and ours-unstored are refused together (main)
        if args.callgrind:
            fd, name = tempfile.mkstemp(prefix=f"callgrind-{server}-{scenario.key}-", dir=workdir)
            os.close(fd)
            counted = Path(name)
        wrap = counted_command(counted) if counted is not None else None
        context = our_server(
            scenario, workdir, args.nice, source, data_root, extra_env=extra, wrap=wrap
        )
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
        if args.pin:
            pin(target.pid, SERVER_CPU)
        sampler = RssSampler(target.pid)
        sampler.start()
        cpu: dict[str, tuple[float, float, float, float, float]] = {}
        scrapes: dict[str, Scrape | None] = {}
        loadgen = subprocess.Popen(
            niced(["node", "loadgen.mjs", str(config_path)], args.nice),
            cwd=NODE_DIR,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        if args.pin:
            pin(loadgen.pid, LOADGEN_CPU)
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
                    user, system = cpu_split_seconds(process_tree(target.pid))
                    cpu[edge] = (
                        time.monotonic(),
                        user + system,
                        cpu_seconds([loadgen.pid]),
                        machine_busy_seconds(),
                        user,
                    )
                    if counted is not None and edge == "closed":
                        # Count the window only (not the scrape of its metrics, below).
                        control(target.pid, "-i", "off")
                        control(target.pid, "-d")  # read once the server stopped
                    if target.metrics_url is not None:
                        scrapes[edge] = scrape_handoff(target.metrics_url)
                    if counted is not None and edge == "open":
                        control(target.pid, "-i", "on")
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
    if probed is not None:
        print(probe_report(probed, f"{server}/{scenario.key}"), file=sys.stderr, flush=True)
    result: dict[str, Any] = json.loads(output) if output.strip() else {"error": "no output"}
    if counted is not None and "error" not in result:
        sent = result["expectedPerSecond"] * args.duration
        instructions = dumped_instructions(counted)
        result["instructionsPerUpdate"] = per_update(
            instructions, round(sent), scenario.clients_per_room
        )
    for second in result.get("timeline") or []:
        print(
            "    {server}/{key} second {second:>3}: {count:>6} deliveries, p50 {p50:8.2f} ms, "
            "p99 {p99:8.2f} ms, max {max:8.2f} ms; load generator GC {gc:6.2f} ms "
            "(longest {gc_max:5.2f})".format(
                server=server,
                key=scenario.key,
                gc=second.get("gcMs", 0.0),
                gc_max=second.get("gcMaxMs", 0.0),
                **second,
            ),
            file=sys.stderr,
        )
    if args.timeline:
        seconds = result.get("seconds") or args.duration
        for way, kinds in (result.get("traffic") or {}).items():
            for kind, seen in sorted(kinds.items()):
                print(
                    f"    {server}/{scenario.key} the load generator {way} {kind}: "
                    f"{seen['messages'] / seconds:,.0f} messages/s, "
                    f"{seen['bytes'] / seconds / 1024:,.1f} KiB/s",
                    file=sys.stderr,
                )
    cpu_percent = others_percent = user_percent = None
    if "open" in cpu and "closed" in cpu:
        (t0, s0, l0, m0, u0), (t1, s1, l1, m1, u1) = cpu["open"], cpu["closed"]
        cpu_percent = 100 * (s1 - s0) / (t1 - t0)
        user_percent = 100 * (u1 - u0) / (t1 - t0)
        others_percent = 100 * ((m1 - m0) - (s1 - s0) - (l1 - l0)) / (t1 - t0)
    rss, hwm = sampler.peak_kib / 1024, sampler.hwm_kib / 1024
    handoff = None
    first, last = scrapes.get("open"), scrapes.get("closed")
    if first is not None and last is not None:
        handoff = handoff_between(first, last)
    return Row(
        server, scenario, result, rss, hwm, cpu_percent, others_percent, handoff, user_percent
    )


def scrape_handoff(url: str) -> Scrape | None:
    """Our server's hand-off figures now; None (no figure) if they cannot be read."""
    text = scrape(url)
    if text is None:
        print(f"  cannot read {url}", file=sys.stderr, flush=True)
        return None
    return handoff_scrape(text)


# -- main --------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--scenario", action="append", choices=sorted(SCENARIOS), help="default: big, then many"
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
    parser.add_argument(
        "--baseline",
        type=Path,
        help="a second checkout of our server (e.g. a worktree of the commit before a change),\n"
        "measured as server 'baseline' alternating with the others in the same run",
    )
    parser.add_argument(
        "--markdown",
        type=Path,
        help="also write the report there as Markdown: the table, the CPU split, the verdicts",
    )
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
        "--timeline",
        action="store_true",
        help="print latency per second of each run, the load generator's garbage collections\n"
        "in each second, and its messages each way by kind",
    )
    parser.add_argument(
        "--pin",
        action="store_true",
        help=f"keep the server on CPU {SERVER_CPU} and the load generator on CPU {LOADGEN_CPU}\n"
        "(two cores or more): neither waits for the other's core, and runs vary less",
    )
    parser.add_argument(
        "--callgrind",
        action="store_true",
        help="run our servers under valgrind's callgrind and print the instructions each\n"
        "executes per update in the measured window (bench/docs_counted.py); slow: use the\n"
        "light scenario, and read no speed from those runs' other figures",
    )
    parser.add_argument(
        "--probe",
        action="store_true",
        help="time each live update's parts inside our servers (bench/live_probe): received to\n"
        "first send, its apply, its commit, each send; printed after each run. The probe's\n"
        "clocks cost a little: its runs are not for comparing with the reference",
    )
    args = parser.parse_args(argv)
    if args.memory_check:
        args.scenario, args.server = ["many"], ["ours"]
    args.scenario = args.scenario or list(DEFAULT_SCENARIOS)
    args.server = args.server or ["reference", "ours"]
    if args.baseline is not None and "baseline" not in args.server:
        args.server.append("baseline")
    if "baseline" in args.server and args.baseline is None:
        parser.error("--server baseline needs --baseline DIR")
    if args.probe and "ours-unstored" in args.server:
        parser.error("--probe and --server ours-unstored each need the server's PYTHONPATH")
    return args


def instruction_counts(rows: list[Row]) -> str:
    """``--callgrind``'s figures: each run's instructions per update, per server and scenario."""
    groups: dict[tuple[str, str], list[float]] = {}
    for row in rows:
        value = row.result.get("instructionsPerUpdate")
        if value is not None and "median" not in row.server:
            groups.setdefault((row.scenario.key, row.server), []).append(value)
    lines = [
        f"  {server}/{key}: median {statistics.median(values):,.0f} "
        f"({', '.join(f'{v:,.0f}' for v in values)})"
        for (key, server), values in groups.items()
    ]
    if not lines:
        return ""
    return "instructions per update in the window, user space (callgrind):\n" + "\n".join(lines)


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
    figures = [block for block in (cpu_split(rows), instruction_counts(rows)) if block]
    ok, verdict = memory_verdict(rows)
    notes = [note for note in (verdict, *target_verdicts(rows), saturation_warning(rows)) if note]
    for block in (*figures, *notes):
        print("\n" + block)
    if args.markdown:
        args.markdown.write_text(markdown_report(rows, figures, notes))
    failed = any("error" in row.result for row in rows)
    return 1 if failed or not ok else 0


if __name__ == "__main__":
    sys.exit(main())
