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
import random
import socket
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, insert, select
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rooms.cockpit.errors import first_failure, signature  # noqa: E402
from rooms.progress import ExerciseProgress, Graded, apply  # noqa: E402
from sandbox.grading.schema import exercise_from_dict  # noqa: E402
from server.auth import TokenSigner  # noqa: E402
from server.models import (  # noqa: E402
    AttemptError,
    AttemptOutcome,
    Classroom,
    ExerciseRecord,
    Membership,
    Progress,
    Room,
    Submission,
    User,
    UserKind,
)
from server.store import migrate, sync_url  # noqa: E402

SECRET = "cockpit-bench-secret"
RIGHT = "print(input())\n"
WRONG_OUTPUT = "print(input().upper())\n"
NAMES = ["total", "count", "value", "result", "answer", "word", "line", "data"]


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


def exercise_definition(index: int) -> dict[str, Any]:
    """An echo exercise with three I/O tests (so the live submissions really grade)."""
    data = {
        "id": f"ex{index:02d}",
        "title": f"Exercise {index}",
        "language": "python",
        "rate_limit": {"count": 100, "window": 60},
        "tests": [
            {"name": f"echo {word}", "stdin": f"{word}\n", "expected": word, "hints": ["echo"]}
            for word in ("a", "b", "c")
        ],
    }
    return exercise_from_dict(data).to_dict()


def attempt_results(rng: random.Random, passed: bool) -> dict[str, Any]:
    """A stored result: all tests pass, or a wrong output, or a runtime error with the
    student's own variable name (so errors cluster by signature, not by text)."""
    if passed:
        tests = [(w, True, "passed") for w in ("a", "b", "c")]
    elif rng.random() < 0.5:
        tests = [
            (w, w == "a", "passed" if w == "a" else f"line 1: expected '{w}', got '{w.upper()}'")
            for w in ("a", "b", "c")
        ]
    else:
        name = rng.choice(NAMES)
        trace = (
            "runtime error (exit code 1)\n--- stderr ---\nTraceback (most recent call last):\n"
            f'  File "/work/main.py", line {rng.randint(1, 9)}, in <module>\n'
            f"NameError: name '{name}' is not defined\n"
        )
        tests = [(w, False, trace) for w in ("a", "b", "c")]
    rows = [
        {
            "name": f"echo {w}",
            "score": 1.0 if ok else 0.0,
            "max_score": 1.0,
            "status": "passed" if ok else "failed",
            "output": out,
            "visibility": "visible",
        }
        for w, ok, out in tests
    ]
    score = sum(r["score"] for r in rows)
    return {"score": score, "max_score": 3.0, "output": "", "tests": rows}


def seed(url: str, students: int, exercises: int, submissions: int) -> dict[str, Any]:
    """Write the class; returns ids and tokens."""
    rng = random.Random(12)
    engine = create_engine(sync_url(url))
    signer = TokenSigner(SECRET, 3600)
    t0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    with engine.begin() as conn:
        teacher = conn.execute(
            insert(User.__table__).values(name="Teacher", kind="instructor", created_at=t0)  # type: ignore[attr-defined]
        ).inserted_primary_key[0]
        classroom = conn.execute(
            insert(Classroom.__table__).values(  # type: ignore[attr-defined]
                title="Bench", join_code="BENCH1", owner_id=teacher, created_at=t0
            )
        ).inserted_primary_key[0]
        room = conn.execute(
            insert(Room.__table__).values(  # type: ignore[attr-defined]
                classroom_id=classroom, title="Lesson", kind="lesson", created_at=t0
            )
        ).inserted_primary_key[0]
        conn.execute(
            insert(Membership.__table__),  # type: ignore[attr-defined]
            [
                {
                    "classroom_id": classroom,
                    "user_id": teacher,
                    "role": "instructor",
                    "created_at": t0,
                }
            ],
        )
        conn.execute(
            insert(User.__table__),  # type: ignore[attr-defined]
            [
                {"name": f"Student {i:03d}", "kind": "student", "created_at": t0}
                for i in range(students)
            ],
        )
        ids = [
            row[0]
            for row in conn.exec_driver_sql(
                "SELECT id FROM users WHERE kind = 'student' ORDER BY id"
            ).all()
        ]
        conn.execute(
            insert(Membership.__table__),  # type: ignore[attr-defined]
            [
                {"classroom_id": classroom, "user_id": uid, "role": "student", "created_at": t0}
                for uid in ids
            ],
        )
        conn.execute(
            insert(ExerciseRecord.__table__),  # type: ignore[attr-defined]
            [
                {
                    "classroom_id": classroom,
                    "exercise_id": f"ex{e:02d}",
                    "title": f"Exercise {e}",
                    "language": "python",
                    "definition": exercise_definition(e),
                    "version": 1,
                    "updated_at": t0,
                }
                for e in range(exercises)
            ],
        )
        progress_rows = []
        for e in range(exercises):
            exercise_id = f"ex{e:02d}"
            subs = []
            for uid in ids:
                skill = rng.random()
                at = t0 + timedelta(minutes=rng.randint(0, 30))
                state: ExerciseProgress | None = None
                passed = False
                for attempt in range(1, submissions + 1):
                    passed = passed or rng.random() < skill * 0.4
                    results = attempt_results(rng, passed)
                    subs.append(
                        {
                            "classroom_id": classroom,
                            "room_id": room,
                            "exercise_id": exercise_id,
                            "user_id": uid,
                            "attempt": attempt,
                            "files": {"main.py": RIGHT if passed else WRONG_OUTPUT},
                            "status": "graded",
                            "score": results["score"],
                            "max_score": 3.0,
                            "passed": passed,
                            "results": results,
                            "exercise_version": 1,
                            "submitted_at": at,
                            "graded_at": at,
                        }
                    )
                    event = Graded(uid, exercise_id, results["score"], 3.0, passed, at)
                    state = apply(state, event).progress
                    at += timedelta(seconds=rng.randint(20, 300))
                assert state is not None
                progress_rows.append(
                    {
                        "user_id": uid,
                        "classroom_id": classroom,
                        "exercise_id": exercise_id,
                        "attempts": state.attempts,
                        "best_score": state.best_score,
                        "max_score": state.max_score,
                        "passed": state.passed,
                        "first_attempt_at": state.first_attempt_at,
                        "last_attempt_at": state.last_attempt_at,
                        "first_pass_at": state.first_pass_at,
                    }
                )
            conn.execute(insert(Submission.__table__), subs)  # type: ignore[attr-defined]
            table = Submission.__table__  # type: ignore[attr-defined]
            stored = conn.execute(
                select(table.c.id, table.c.user_id, table.c.results, table.c.submitted_at)
                .where(table.c.exercise_id == exercise_id)
                .order_by(table.c.id)
            ).all()
            errors, outcomes = [], []
            newest: dict[int, int] = {}
            for sid, uid, _, _ in stored:
                newest[uid] = max(newest.get(uid, 0), sid)
            for sid, uid, results, at in stored:
                test, line = first_failure(results)
                errors.append(
                    {
                        "submission_id": sid,
                        "classroom_id": classroom,
                        "user_id": uid,
                        "exercise_id": exercise_id,
                        "test": test,
                        "line": line,
                        "signature": signature(line) if line else "",
                        "latest": newest[uid] == sid,
                        "created_at": at,
                    }
                )
                outcomes += [
                    {
                        "submission_id": sid,
                        "classroom_id": classroom,
                        "user_id": uid,
                        "exercise_id": exercise_id,
                        "test": t["name"],
                        "passed": t["status"] == "passed",
                    }
                    for t in results["tests"]
                ]
            conn.execute(insert(AttemptError.__table__), errors)  # type: ignore[attr-defined]
            conn.execute(insert(AttemptOutcome.__table__), outcomes)  # type: ignore[attr-defined]
        conn.execute(insert(Progress.__table__), progress_rows)  # type: ignore[attr-defined]
    if engine.dialect.name == "postgresql":
        # Planner statistics, as autovacuum gathers them a while after a bulk load (and a
        # database that grew over a term has them); SQLite is left as an app leaves it.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    return {
        "classroom": classroom,
        "room": room,
        "teacher": signer.sign(teacher, UserKind.INSTRUCTOR),
        "students": [(uid, signer.sign(uid, UserKind.STUDENT)) for uid in ids],
    }


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
