"""A class presses Run, then Submit, at once: before and after, side by side in one run.

For each side (``--source DIR``: a checkout of the old code; then this checkout; the order
alternates from round to round, the old code first in the first)
it starts ``python -m server`` from that checkout on a free port with a fresh data directory
(SQLite, in-process bus, the Docker sandbox), makes a classroom with one lesson room and a
three-test Python exercise, joins ``--students`` students and opens their room sockets plus
the instructor's (the instructor online: a lesson is on), waits ``--settle`` seconds for the
warm pool, then:

1. **Class burst.** Every student sends ``run.start`` once, the starts spread evenly over
   ``--spread`` seconds (half a hello world, half a short loop). Per run: ``run.start`` sent →
   first ``run.output`` (p50/p95/max), and from the first start to the last ``run.finished``.
   Warm Python containers of the server at the burst's start are counted on the engine
   (labels); pool hits/misses come from the server's ``/metrics`` when it exports them.
2. **Grading burst.** After ``--settle`` seconds more, every student submits the exercise at
   once; the instructor's socket times the last ``leaderboard.update`` after the last submit.

    .venv/bin/python bench/burst_bench.py --source /work/wt/before [--students 30]
        [--spread 1.0] [--settle 10] [--concurrency N] [--repeat 1]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import shutil
import signal
import socket
import statistics
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiodocker
import httpx
from websockets.asyncio.client import ClientConnection, connect

sys.path.insert(0, str(Path(__file__).resolve().parent))
from grading_bench import EXERCISE, SOLUTION, free_port, pct
from processes import containers_cpu_seconds, cpu_seconds, machine_busy_seconds

ROOT = Path(__file__).resolve().parent.parent
HELLO = "print('hello')\n"
LOOP = "total = 0\nfor i in range(200000):\n    total += i\nprint(total)\n"


@dataclass
class Side:
    name: str
    source: Path
    first: list[float] = field(default_factory=list)
    all_finished: float = 0.0
    warm_at_start: int = 0
    hits: str = "n/a"
    statuses: dict[str, int] = field(default_factory=dict)
    last_update: float = 0.0
    graded: list[float] = field(default_factory=list)
    load: str = ""
    failed: str = ""
    full_marks: int = 0
    filled: str = "n/a"
    where: str = ""
    cpu: dict[str, str] = field(default_factory=dict)  # burst → "total / server / engine / runs"


ENGINE = ("dockerd", "containerd")


def cpu_snapshot(server: int) -> tuple[float, float, float, float]:
    """CPU seconds so far: the whole machine, the server, the engine's daemons, the runs."""
    engine = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                comm = (entry / "comm").read_text().strip()
            except OSError:
                continue
            if comm in ENGINE:
                engine.append(int(entry.name))
    runs = containers_cpu_seconds()
    return machine_busy_seconds(), cpu_seconds([server]), cpu_seconds(engine), runs


def cpu_spent(before: tuple[float, ...], after: tuple[float, ...]) -> str:
    return " / ".join(f"{b - a:.2f}" for a, b in zip(before, after, strict=True))


async def wait_health(http: httpx.AsyncClient) -> None:
    for _ in range(600):
        try:
            if (await http.get("/health")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("the server did not come up")


async def warm_python(pid: int) -> int:
    """Started Python containers of the server process ``pid`` that no run took yet."""
    owner = f"{socket.gethostname()}:{pid}:"
    docker = aiodocker.Docker()
    try:
        found = await docker.containers.list(
            filters={"label": ["opencode-classroom.language=python"], "status": ["running"]}
        )
    finally:
        await docker.close()
    return sum(
        1 for c in found if c["Labels"].get("opencode-classroom.owner", "").startswith(owner)
    )


COUNTED = (
    "classroom_sandbox_pool_hits_total",
    "classroom_sandbox_pool_misses_total",
    "classroom_grading_seconds_sum",
    "classroom_grading_seconds_count",
    "classroom_leaderboard_update_seconds_sum",
    "classroom_leaderboard_update_seconds_count",
)


async def pool_counts(http: httpx.AsyncClient) -> dict[str, float]:
    """The server's counters that say where a burst's time went (summed over labels)."""
    text = (await http.get("/metrics")).text
    out: dict[str, float] = {}
    for line in text.splitlines():
        name = line.split("{")[0].split(" ")[0]
        if name in COUNTED:
            out[name] = out.get(name, 0.0) + float(line.split()[-1])
    return out


async def time_to_fill(http: httpx.AsyncClient, students: int, settle: float) -> str:
    """Wait ``settle`` seconds; say when the server's pool first held ``students`` warm
    containers (polled every 0.2 s), if it exports the figure."""
    began = time.perf_counter()
    filled = "n/a"
    while (left := settle - (time.perf_counter() - began)) > 0:
        text = (await http.get("/metrics")).text
        ready = [
            line for line in text.splitlines() if line.startswith("classroom_sandbox_pool_ready ")
        ]
        if ready and filled == "n/a":
            filled = "not within settle"
        if ready and float(ready[0].split()[1]) >= students and not filled.endswith(" s"):
            filled = f"{time.perf_counter() - began:.1f} s"
        await asyncio.sleep(min(0.2, max(0.0, left)))
    return filled


async def until_snapshot(ws: ClientConnection) -> None:
    while json.loads(await ws.recv())["type"] != "room.snapshot":
        pass


async def setup(http: httpx.AsyncClient, data: Path, students: int) -> tuple[str, int, list[str]]:
    login = (
        await http.post(
            "/api/auth/login", json={"email": "bench@example.org", "password": "bench password"}
        )
    ).json()
    teacher = {"Authorization": f"Bearer {login['token']}"}
    classroom = (await http.post("/api/classrooms", json={"title": "B"}, headers=teacher)).json()
    room = (
        await http.post(
            f"/api/classrooms/{classroom['id']}/rooms",
            json={"title": "Burst", "kind": "lesson"},
            headers=teacher,
        )
    ).json()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("exercises/double.toml", EXERCISE)
    imported = await http.post(
        f"/api/classrooms/{classroom['id']}/course", content=buffer.getvalue(), headers=teacher
    )
    assert imported.status_code == 200, imported.text
    tokens = []
    for i in range(students):
        joined = await http.post(
            "/api/join", json={"join_code": classroom["join_code"], "name": f"Student {i:02d}"}
        )
        tokens.append(joined.json()["token"])
    return login["token"], room["id"], tokens


async def run_burst(side: Side, sockets: list[ClientConnection], spread: float) -> None:
    n = len(sockets)
    began = time.perf_counter()
    finished_at: list[float] = []

    async def one(i: int, ws: ClientConnection) -> None:
        await asyncio.sleep(began + spread * i / n - time.perf_counter())
        code = HELLO if i % 2 == 0 else LOOP
        sent = time.perf_counter()
        command = {"type": "run.start", "language": "python", "files": {"main.py": code}}
        await ws.send(json.dumps({**command, "ref": f"r{i}", "stdin": ""}))
        first = None
        while True:
            event = json.loads(await ws.recv())
            if event["type"] == "run.output" and first is None:
                first = time.perf_counter() - sent
            elif event["type"] == "run.finished":
                finished_at.append(time.perf_counter())
                side.statuses[event["status"]] = side.statuses.get(event["status"], 0) + 1
                break
            elif event["type"] == "error":
                raise RuntimeError(event)
        if first is not None:  # a run killed before it printed has no first output
            side.first.append(first * 1000)

    async with asyncio.timeout(120):
        await asyncio.gather(*(one(i, ws) for i, ws in enumerate(sockets)))
    side.all_finished = (max(finished_at) - began) * 1000


async def grading_burst(
    side: Side, watcher: ClientConnection, sockets: list[ClientConnection]
) -> None:
    sent: list[float] = []
    updates = 0

    async def submit(ws: ClientConnection) -> None:
        start = time.perf_counter()
        sent.append(start)
        files = {"main.py": SOLUTION}
        await ws.send(json.dumps({"type": "submit", "exercise_id": "double", "files": files}))
        while True:
            event = json.loads(await ws.recv())
            if event["type"] == "grade.result":
                if event["submission"]["results"]["score"] == 3:
                    side.full_marks += 1  # fewer: a test ran out of time (a loaded machine)
                side.graded.append((time.perf_counter() - start) * 1000)
                return
            if event["type"] == "error":
                raise RuntimeError(event)

    arrived = asyncio.Event()

    async def watch() -> None:
        nonlocal updates
        while True:
            event = json.loads(await watcher.recv())
            if event["type"] == "leaderboard.update" and event.get("board") == "room":
                updates += 1
                print(f"  leaderboard.update {updates}", file=sys.stderr, flush=True)
                side.last_update = time.perf_counter()
                arrived.set()

    watching = asyncio.create_task(watch())
    try:
        async with asyncio.timeout(180):
            await asyncio.gather(*(submit(ws) for ws in sockets))
            # Only a first pass (here: full marks) earns XP and so moves the board: a
            # submission whose test timed out on a loaded machine sends no update to wait for.
            while updates < side.full_marks:
                arrived.clear()
                await arrived.wait()
    finally:
        watching.cancel()
    if side.full_marks < len(sockets):
        print(
            f"  {len(sockets) - side.full_marks} of {len(sockets)} submissions without full "
            "marks earned no XP: the board time covers the others",
            file=sys.stderr,
            flush=True,
        )
    if not side.full_marks:
        side.last_update = max(sent)  # no update: reported as 0
    side.last_update = (side.last_update - max(sent)) * 1000


async def measure(side: Side, args: argparse.Namespace) -> None:
    data = Path(tempfile.mkdtemp(prefix="burst-bench-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLASSROOM_")}
    env.update(
        CLASSROOM_DATA_DIR=str(data),
        CLASSROOM_SANDBOX="docker",
        CLASSROOM_LOG_LEVEL="warning",
        CLASSROOM_RUN_QUEUE_SIZE="1000",
    )
    if args.concurrency is not None:
        env["CLASSROOM_RUN_CONCURRENCY"] = str(args.concurrency)
    created = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "server", "create-instructor", "bench@example.org",
        "--name", "Bench", "--password-stdin", cwd=side.source, env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    await created.communicate(b"bench password\n")
    log = (data / "server.log").open("wb")
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "server", "--port", str(port), cwd=side.source, env=env,
        stdout=log, stderr=log,
    )  # fmt: skip
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            await wait_health(http)
            token, room_id, tokens = await setup(http, data, args.students)
            ws_base = f"ws://127.0.0.1:{port}/ws/rooms/{room_id}?token="
            # every event is buffered: a socket not read for a while still answers pings
            options: dict[str, Any] = {
                "max_size": 8 << 20,
                "ping_interval": None,
                "max_queue": None,
            }
            watcher = await connect(ws_base + token, **options)
            sockets = [await connect(ws_base + t, **options) for t in tokens]
            for ws in [watcher, *sockets]:
                await until_snapshot(ws)
            # the pool fills (both sides get the same time); when the server says how full
            # its pool is, note when it held a container per student
            side.filled = await time_to_fill(http, args.students, args.settle)
            before = await pool_counts(http)
            side.warm_at_start = await warm_python(server.pid)
            side.load = f"{os.getloadavg()[0]:.1f}"
            spy = await profile(server.pid, args.py_spy, side)
            print(f"{side.name}: class burst", file=sys.stderr, flush=True)
            cpu = cpu_snapshot(server.pid)
            await run_burst(side, sockets, args.spread)
            side.cpu["class"] = cpu_spent(cpu, cpu_snapshot(server.pid))
            after = await pool_counts(http)
            if "classroom_sandbox_pool_hits_total" in after:
                hits = after["classroom_sandbox_pool_hits_total"] - before.get(
                    "classroom_sandbox_pool_hits_total", 0
                )
                misses = after["classroom_sandbox_pool_misses_total"] - before.get(
                    "classroom_sandbox_pool_misses_total", 0
                )
                side.hits = f"{hits:.0f}/{misses:.0f}"
            await asyncio.sleep(args.settle)
            before = await pool_counts(http)
            print(f"{side.name}: grading burst", file=sys.stderr, flush=True)
            cpu = cpu_snapshot(server.pid)
            await grading_burst(side, watcher, sockets)
            side.cpu["grading"] = cpu_spent(cpu, cpu_snapshot(server.pid))
            after = await pool_counts(http)
            side.where = where_grading_went(before, after)
            if spy is not None:
                spy.send_signal(signal.SIGINT)  # py-spy writes its file and ends
                await spy.wait()
            for ws in [watcher, *sockets]:
                await ws.close()
    except BaseException:
        print(f"{side.name}: the server's data and log are kept in {data}", file=sys.stderr)
        raise
    finally:
        server.terminate()
        await server.wait()
        log.close()
    shutil.rmtree(data, ignore_errors=True)


async def profile(pid: int, out: str | None, side: Side) -> asyncio.subprocess.Process | None:
    """``py-spy record`` of the server through both bursts (collapsed stacks), if asked."""
    if out is None:
        return None
    path = f"{out}-{side.name.split()[0]}.txt"
    return await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(pid),
        "--rate", "200", "--format", "raw", "--idle", "-o", path,
        stdout=asyncio.subprocess.DEVNULL,
    )  # fmt: skip


def where_grading_went(before: dict[str, float], after: dict[str, float]) -> str:
    """Mean time from accepted to grade decided (the sandbox part), and of the XP and board
    step, over the burst's submissions."""

    def mean(name: str) -> float:
        count = after.get(f"{name}_count", 0) - before.get(f"{name}_count", 0)
        total = after.get(f"{name}_sum", 0) - before.get(f"{name}_sum", 0)
        return total / count * 1000 if count else float("nan")

    grading = mean("classroom_grading_seconds")
    board = mean("classroom_leaderboard_update_seconds")
    hits = "n/a"
    if "classroom_sandbox_pool_hits_total" in after:
        took = after["classroom_sandbox_pool_hits_total"]
        took -= before["classroom_sandbox_pool_hits_total"]
        missed = after["classroom_sandbox_pool_misses_total"]
        missed -= before["classroom_sandbox_pool_misses_total"]
        hits = f"{took:.0f}/{missed:.0f}"
    return f"{grading:.0f} / {board:.0f} (pool {hits})"


def table(sides: list[Side], args: argparse.Namespace) -> str:
    rows = [
        f"class burst: {args.students} runs started over {args.spread:g} s, Docker, "
        f"run concurrency {args.concurrency or 'default'}; grading burst: "
        f"{args.students} submissions of 3 tests at once",
        "| side | load 1m | pool full after | warm python at start | pool hits/misses"
        " | first output p50 / p95 / max ms | all finished ms | statuses"
        " | graded 3/3 | submit→grade p50 / max ms"
        " | mean grade decided / board step ms (pool hits/misses)"
        " | last submit→last leaderboard.update ms"
        " | CPU s, class / grading burst: machine / server / engine / runs |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in sides:
        if s.failed or not s.first or not s.graded:
            rows.append(f"| {s.name} | {s.load} | failed: {s.failed} |")
            continue
        rows.append(
            f"| {s.name} | {s.load} | {s.filled} | {s.warm_at_start} | {s.hits} | "
            f"{pct(s.first, 0.5):.0f} / "
            f"{pct(s.first, 0.95):.0f} / {max(s.first):.0f} | {s.all_finished:.0f} | "
            f"{json.dumps(s.statuses)} | {s.full_marks} | {pct(s.graded, 0.5):.0f} / "
            f"{max(s.graded):.0f} | "
            f"{s.where} | {s.last_update:.0f} | "
            f"{s.cpu.get('class', '')} ; {s.cpu.get('grading', '')} |"
        )
    return "\n".join(rows)


def medians(sides: list[Side]) -> str:
    """Per side over its rounds: the median last submit → last ``leaderboard.update`` and
    the median server CPU of each burst (the server's figure of the CPU columns)."""
    lines = []
    for name in ("before", "after"):
        mine = [s for s in sides if s.name.startswith(name) and not s.failed]
        if not mine:
            continue
        last = statistics.median(s.last_update for s in mine)
        server = {
            burst: statistics.median(float(s.cpu[burst].split(" / ")[1]) for s in mine)
            for burst in ("class", "grading")
            if all(burst in s.cpu for s in mine)
        }
        cpu = ", ".join(f"{burst} burst {value:.2f} s" for burst, value in server.items())
        lines.append(
            f"{name}, median of {len(mine)}: last submit → last leaderboard.update "
            f"{last:.0f} ms; server CPU {cpu}"
        )
    return "\n".join(lines)


async def main(args: argparse.Namespace) -> None:
    sides: list[Side] = []
    for round_ in range(args.repeat):
        order = [("before", args.source), ("after", ROOT)] if args.source else [("after", ROOT)]
        if round_ % 2:
            order.reverse()  # each side goes first in every other round
        for name, source in order:
            side = Side(f"{name} ({round_ + 1})", Path(source))
            try:
                await measure(side, args)
            except Exception as exc:  # one side failing still reports the other
                side.failed = f"{type(exc).__name__}: {exc}"[:200]
            sides.append(side)
            print(table([side], args).splitlines()[-1], flush=True)
    print()
    print(table(sides, args))
    print()
    print(medians(sides))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", help="a checkout of the old code, measured first in odd rounds")
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--spread", type=float, default=1.0, help="seconds over which runs start")
    parser.add_argument("--settle", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, help="CLASSROOM_RUN_CONCURRENCY (both sides)")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--py-spy", help="profile the server into PREFIX-before/after.txt")
    options = parser.parse_args()
    if options.source:
        options.source = Path(options.source).resolve()
    asyncio.run(main(options))
