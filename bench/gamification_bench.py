"""The server's work when a class's grades arrive at once: progress, XP, streak, achievements
and both leaderboards, for every graded submission (``Gamification.record``); with
``--cockpit``, also what the grader asks of the cockpit first (``Cockpit.record``: the
attempt's failed test and verdicts, and ``progress_event``: the staff's new cell).

    .venv/bin/python bench/gamification_bench.py [--students 30] [--rounds 8] [--repeat 3]
        [--cockpit] [--source OLD]

A fresh SQLite database (WAL, as the server opens it) with a classroom, a lesson room and
``--students`` students; then ``--rounds`` rounds in which every student's grade is recorded
at once (``asyncio.gather``), as a class submitting together is graded: odd rounds a failed
attempt, even rounds the first pass of a new exercise inside a live window (XP, the solver's
place, achievements, two ``leaderboard.update``). With ``--cockpit`` each round first stores
the students' submissions of a three-test exercise (not measured), then records each one as
the grader does, the cockpit's two steps and then the gamification. The first two rounds only
warm up (the first use of each statement compiles it). Per round it takes the process's CPU
time, every thread included (the driver's and the store's threads do part of the work), and
the wall time.

Each side runs in a child process with its checkout first on the path: with ``--source`` the
code of another checkout runs beside this one, the sides alternating over ``--repeat``
rounds, the old code first. Printed: CPU ms per graded submission and wall ms per round of the
class, the median over the measured rounds of each child, then each side's median.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WARM_UP = 2


async def child(students: int, rounds: int, with_cockpit: bool) -> dict[str, float]:
    """Run the rounds in this process; CPU ms per record and wall ms per round (medians)."""
    from rooms.xp import LiveWindow
    from server.bus.memory import InMemoryBus
    from server.cockpit.component import Cockpit
    from server.events.hub import RoomHub
    from server.events.presence import LocalPresence
    from server.gamification.game import Gamification, GradedRun
    from server.gamification.leaderboard import InMemoryLeaderboard
    from server.metrics import Metrics
    from server.models import Submission, User
    from server.store import Store, migrate
    from tests.support.rows import classroom_with_room

    url = f"sqlite:///{tempfile.mkdtemp(prefix='gamification-bench-')}/classroom.db"
    await asyncio.to_thread(migrate, url)
    store = Store(url)
    people = [User(name=f"Student {n}") for n in range(students)]
    seeded = await classroom_with_room(store, *people, join_code="BENCH1")
    game = Gamification(store, InMemoryLeaderboard())
    cockpit = Cockpit(store, RoomHub(InMemoryBus(), LocalPresence(), Metrics()), game)
    start = datetime.now(UTC)
    cpu: list[float] = []
    wall: list[float] = []
    for n in range(rounds):
        at = start + timedelta(minutes=n)
        passed = n % 2 == 1
        exercise = f"exercise-{n // 2}"
        window = LiveWindow(at - timedelta(minutes=1), timedelta(minutes=10))
        runs = [
            GradedRun(
                user_id=user,
                classroom_id=seeded.classroom_id,
                room_id=seeded.room_id,
                exercise_id=exercise,
                score=3.0 if passed else 1.0,
                max_score=3.0,
                passed=passed,
                submitted_at=at,
                window=window,
            )
            for user in seeded.user_ids
        ]

        async def graded(run: GradedRun, row: Submission | None) -> list[Any]:
            if row is not None:
                await cockpit.record(row)
                event = await cockpit.progress_event(
                    run.room_id, run.classroom_id, run.user_id, run.exercise_id
                )
                # The cell counts this attempt, and a failed one shows its error (recorded).
                assert event is not None, run
                cell = event["cell"]
                assert cell["attempts"] == (2 if run.passed else 1), cell
                assert run.passed or cell["last_error"], cell
            return await game.record(run)

        rows: list[Submission | None] = [None] * students
        if with_cockpit:
            rows = list(await submissions(store, runs, n))
        cpu_start, wall_start = time.process_time(), time.perf_counter()
        out = await asyncio.gather(*(graded(run, row) for run, row in zip(runs, rows, strict=True)))
        cpu_used, wall_used = time.process_time() - cpu_start, time.perf_counter() - wall_start
        boards = sum(m["type"] == "leaderboard.update" for messages in out for _, m in messages)
        # A first pass earns XP, which moves the room's and the weekly board for everyone.
        assert not passed or boards == 2 * students, boards
        if n >= WARM_UP:
            cpu.append(cpu_used * 1000 / students)
            wall.append(wall_used * 1000)
    await store.close()
    return {"cpu_ms": statistics.median(cpu), "wall_ms": statistics.median(wall)}


async def submissions(store: Any, runs: list[Any], attempt: int) -> list[Any]:
    """The round's submissions as the grader stores them, and their exercise (three tests):
    a failed attempt fails its second test."""
    from sqlmodel import select

    from server.models import ExerciseRecord, Submission

    first = runs[0]
    tests = [{"name": name} for name in ("adds", "negatives", "zero")]
    rows = [
        Submission(
            classroom_id=run.classroom_id,
            exercise_id=run.exercise_id,
            user_id=run.user_id,
            attempt=attempt,
            files={"main.py": "print(sum(map(int, input().split())))\n"},
            results={
                "score": run.score,
                "max_score": run.max_score,
                "tests": [
                    {
                        "name": t["name"],
                        "status": "passed" if run.passed or t["name"] != "negatives" else "failed",
                        "output": "" if run.passed else "AssertionError: expected -3, got 3",
                    }
                    for t in tests
                ],
            },
            status="graded",
            score=run.score,
            max_score=run.max_score,
            passed=run.passed,
            submitted_at=run.submitted_at,
        )
        for run in runs
    ]
    async with store.session() as s:
        known = select(ExerciseRecord).where(
            ExerciseRecord.classroom_id == first.classroom_id,
            ExerciseRecord.exercise_id == first.exercise_id,
        )
        if (await s.exec(known)).first() is None:
            s.add(
                ExerciseRecord(
                    classroom_id=first.classroom_id,
                    exercise_id=first.exercise_id,
                    title=first.exercise_id,
                    language="python",
                    definition={"tests": tests},
                )
            )
        s.add_all(rows)
    return rows


def run_child(source: Path, students: int, rounds: int, with_cockpit: bool) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(source)}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child"]
    cmd += ["--students", str(students), "--rounds", str(rounds)]
    cmd += ["--cockpit"] if with_cockpit else []
    done = subprocess.run(cmd, cwd=source, env=env, capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=8, help="rounds per child, 2 warm-up")
    parser.add_argument("--repeat", type=int, default=3, help="children per side")
    parser.add_argument("--source", type=Path, help="another checkout, measured beside this one")
    parser.add_argument(
        "--cockpit", action="store_true", help="the cockpit's record and cell first, as graded"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rounds <= WARM_UP:
        parser.error(f"--rounds must be more than the {WARM_UP} warm-up rounds")
    if args.child:
        import uvloop  # the server's loop

        print(json.dumps(uvloop.run(child(args.students, args.rounds, args.cockpit))))
        return
    sides = [("this checkout", ROOT)]
    if args.source:
        sides.insert(0, ("--source", args.source.resolve()))
    print(
        f"{args.students} students graded at once, {args.rounds - WARM_UP} measured rounds "
        f"(after {WARM_UP} to warm up), SQLite in WAL mode"
        + (", the cockpit's record and cell first" if args.cockpit else "")
    )
    print("| side | child | CPU ms per graded submission | wall ms per round of the class |")
    print("|---|---|---|---|")
    results: dict[str, list[dict[str, float]]] = {name: [] for name, _ in sides}
    for repeat in range(args.repeat):
        for name, source in sides if repeat % 2 == 0 else sides[::-1]:
            got = run_child(source, args.students, args.rounds, args.cockpit)
            results[name].append(got)
            print(f"| {name} | {repeat + 1} | {got['cpu_ms']:.2f} | {got['wall_ms']:.1f} |")
    for name, runs in results.items():
        cpu = statistics.median(r["cpu_ms"] for r in runs)
        wall = statistics.median(r["wall_ms"] for r in runs)
        print(
            f"{name}, median of {len(runs)}: {cpu:.2f} CPU ms per submission, {wall:.1f} ms a round"
        )


if __name__ == "__main__":
    main()
