"""The instructor's cockpit on a big class: the grid, the analytics and the live grid update.

Builds a class of ``--students`` (200) x ``--exercises`` (20) with ``--submissions`` (10)
graded attempts each, stored as the grader stores them: ``submissions`` with their
Gradescope-shaped results, ``progress`` folded by :func:`rooms.progress.apply`, and the
cockpit's ``attempt_errors`` / ``attempt_outcomes`` from the same pure functions the server
uses (a mix of passes, wrong outputs and runtime errors with students' own names in them).
The rows go in with bulk inserts (grading 40,000 attempts in a sandbox would take hours and
measure the sandbox). Then ``python -m server`` serves that database and the benchmark

1. asks ``GET /api/rooms/{id}/progress`` ``--rounds`` times (the whole grid: 4,000 cells);
2. asks ``GET /api/classrooms/{id}/exercises/{ex}/analytics`` ``--rounds`` times for each
   exercise;
3. has ``--live`` students each submit for real over the room socket (graded in the sandbox)
   while the teacher's socket measures the time from the staff's ``grade.result`` to the
   ``progress.update`` carrying that student's new cell.

Prints p50 / p95 / max of each. On SQLite (default) or PostgreSQL (``--database postgres``:
a fresh database on ``CLASSROOM_BENCH_POSTGRES_URL``, default
``postgresql://postgres@127.0.0.1:5432/postgres``, dropped at the end).

    .venv/bin/python bench/cockpit_bench.py [--database sqlite|postgres] [--students 200]
        [--exercises 20] [--submissions 10] [--rounds 40] [--live 40] [--sandbox local]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cockpit_seed import RIGHT, SECRET, WRONG_OUTPUT, seed  # noqa: E402  (bench/ is on sys.path)

from server.store import migrate  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def summary(values: list[float]) -> str:
    return (
        f"p50 {statistics.median(values):.1f} ms, p95 {pct(values, 0.95):.1f} ms, "
        f"max {max(values):.1f} ms (n={len(values)})"
    )


def cpu_ms(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far, in ms (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


async def timed_get(http: httpx.AsyncClient, path: str, headers: dict[str, str]) -> float:
    start = time.perf_counter()
    response = await http.get(path, headers=headers)
    elapsed = (time.perf_counter() - start) * 1000
    assert response.status_code == 200, response.text
    return elapsed


async def live_updates(
    ws_base: str, room: int, teacher: str, students: list[tuple[int, str]], count: int
) -> list[float]:
    """Real submissions over the room socket; grade.result → progress.update on the staff's."""
    watcher = await connect(f"{ws_base}/ws/rooms/{room}?token={teacher}", max_size=16 << 20)
    await watcher.recv()  # room.snapshot
    latencies: list[float] = []
    for index, (uid, token) in enumerate(students[:count]):
        ws = await connect(f"{ws_base}/ws/rooms/{room}?token={token}", max_size=16 << 20)
        await ws.recv()
        exercise = f"ex{index % 20:02d}"
        code = RIGHT if index % 2 else WRONG_OUTPUT
        await ws.send(
            json.dumps({"type": "submit", "exercise_id": exercise, "files": {"main.py": code}})
        )
        graded_at = None
        while True:
            event = json.loads(await asyncio.wait_for(watcher.recv(), 60))
            now = time.perf_counter()
            if event["type"] == "grade.result" and event["submission"]["user_id"] == uid:
                graded_at = now
            elif (
                event["type"] == "progress.update"
                and event["cell"]["user_id"] == uid
                and graded_at is not None
            ):
                latencies.append((now - graded_at) * 1000)
                break
        await ws.close()
    await watcher.close()
    return latencies


async def main(args: argparse.Namespace) -> None:
    data = Path(tempfile.mkdtemp(prefix="cockpit-bench-"))
    pg_admin = os.environ.get(
        "CLASSROOM_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    pg_name = None
    if args.database == "postgres":
        import psycopg

        pg_name = f"cockpit_bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(pg_admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{pg_name}"')
        url = f"{pg_admin.rpartition('/')[0]}/{pg_name}"
    else:
        url = f"sqlite:///{data / 'classroom.db'}"
    server = None
    try:
        migrate(url)
        started = time.perf_counter()
        ids = seed(url, args.students, args.exercises, args.submissions)
        total = args.students * args.exercises * args.submissions
        print(f"seeded {total} graded submissions in {time.perf_counter() - started:.1f} s")
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("CLASSROOM_")}
        env.update(
            CLASSROOM_DATA_DIR=str(data),
            CLASSROOM_DATABASE_URL=url,
            CLASSROOM_SECRET_KEY=SECRET,
            CLASSROOM_SANDBOX=args.sandbox,
            CLASSROOM_POOL_SIZE="2",
            CLASSROOM_LOG_LEVEL="warning",
            # The teacher's requests, one after another as fast as they are answered: timed,
            # not held to a person's pace.
            CLASSROOM_MAX_REQUESTS_PER_SECOND="0",
        )
        server = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "server", "--port", str(port), cwd=ROOT, env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        teacher = {"Authorization": f"Bearer {ids['teacher']}"}
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:
            for _ in range(600):
                try:
                    if (await http.get("/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            grid_path = f"/api/rooms/{ids['room']}/progress"
            grid = (await http.get(grid_path, headers=teacher)).json()
            print(f"grid: {len(grid['students'])} students x {len(grid['exercises'])} exercises")
            for _ in range(3):  # warm up connections and caches
                await timed_get(http, grid_path, teacher)
            print(f"load average before: {load_average()}")
            cpu = cpu_ms(server.pid)
            grid_ms = [await timed_get(http, grid_path, teacher) for _ in range(args.rounds)]
            grid_cpu = (cpu_ms(server.pid) - cpu) / args.rounds
            print(
                f"GET /api/rooms/{{id}}/progress: {summary(grid_ms)}; "
                f"server CPU {grid_cpu:.1f} ms per request"
            )
            per_exercise: list[float] = []
            worst = 0.0
            cpu = cpu_ms(server.pid)
            for e in range(args.exercises):
                path = f"/api/classrooms/{ids['classroom']}/exercises/ex{e:02d}/analytics"
                await timed_get(http, path, teacher)
                times = [await timed_get(http, path, teacher) for _ in range(args.rounds)]
                worst = max(worst, pct(times, 0.95))
                per_exercise += times
            analytics_cpu = (cpu_ms(server.pid) - cpu) / (args.rounds * args.exercises)
            print(
                f"GET …/exercises/{{ex}}/analytics: {summary(per_exercise)}; "
                f"worst exercise's p95 {worst:.1f} ms; "
                f"server CPU {analytics_cpu:.1f} ms per request"
            )
        ws_base = f"ws://127.0.0.1:{port}"
        live = await live_updates(ws_base, ids["room"], ids["teacher"], ids["students"], args.live)
        print(f"grade.result → progress.update (staff socket): {summary(live)}")
        print(f"load average after: {load_average()}")
    finally:
        if server is not None:
            server.terminate()
            await server.wait()
        if pg_name is not None:
            import psycopg

            with psycopg.connect(pg_admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--students", type=int, default=200)
    parser.add_argument("--exercises", type=int, default=20)
    parser.add_argument("--submissions", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--live", type=int, default=40)
    parser.add_argument("--sandbox", default="local")
    asyncio.run(main(parser.parse_args()))
