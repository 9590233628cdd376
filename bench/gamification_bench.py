"""The server's work when a class's grades arrive at once: progress, XP, streak, achievements
and both leaderboards, for every graded submission (``Gamification.record``).

    .venv/bin/python bench/gamification_bench.py [--students 30] [--rounds 8] [--repeat 3]
        [--source OLD]

A fresh SQLite database (WAL, as the server opens it) with a classroom, a lesson room and
``--students`` students; then ``--rounds`` rounds in which every student's grade is recorded
at once (``asyncio.gather``), as a class submitting together is graded: odd rounds a failed
attempt, even rounds the first pass of a new exercise inside a live window (XP, the solver's
place, achievements, two ``leaderboard.update``). The first two rounds only warm up (the first
use of each statement compiles it). Per round it takes the process's CPU time, every thread
included (the driver's and the store's threads do part of the work), and the wall time.

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

ROOT = Path(__file__).resolve().parent.parent
WARM_UP = 2


async def child(students: int, rounds: int) -> dict[str, float]:
    """Run the rounds in this process; CPU ms per record and wall ms per round (medians)."""
    from rooms.xp import LiveWindow
    from server.gamification.game import Gamification, GradedRun
    from server.gamification.leaderboard import InMemoryLeaderboard
    from server.models import User
    from server.store import Store, migrate
    from tests.support.rows import classroom_with_room

    url = f"sqlite:///{tempfile.mkdtemp(prefix='gamification-bench-')}/classroom.db"
    await asyncio.to_thread(migrate, url)
    store = Store(url)
    people = [User(name=f"Student {n}") for n in range(students)]
    seeded = await classroom_with_room(store, *people, join_code="BENCH1")
    game = Gamification(store, InMemoryLeaderboard())
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
        cpu_start, wall_start = time.process_time(), time.perf_counter()
        out = await asyncio.gather(*(game.record(run) for run in runs))
        cpu_used, wall_used = time.process_time() - cpu_start, time.perf_counter() - wall_start
        boards = sum(m["type"] == "leaderboard.update" for messages in out for _, m in messages)
        # A first pass earns XP, which moves the room's and the weekly board for everyone.
        assert not passed or boards == 2 * students, boards
        if n >= WARM_UP:
            cpu.append(cpu_used * 1000 / students)
            wall.append(wall_used * 1000)
    await store.close()
    return {"cpu_ms": statistics.median(cpu), "wall_ms": statistics.median(wall)}


def run_child(source: Path, students: int, rounds: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(source)}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child"]
    cmd += ["--students", str(students), "--rounds", str(rounds)]
    done = subprocess.run(cmd, cwd=source, env=env, capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=8, help="rounds per child, 2 warm-up")
    parser.add_argument("--repeat", type=int, default=3, help="children per side")
    parser.add_argument("--source", type=Path, help="another checkout, measured beside this one")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rounds <= WARM_UP:
        parser.error(f"--rounds must be more than the {WARM_UP} warm-up rounds")
    if args.child:
        import uvloop  # the server's loop

        print(json.dumps(uvloop.run(child(args.students, args.rounds))))
        return
    sides = [("this checkout", ROOT)]
    if args.source:
        sides.insert(0, ("--source", args.source.resolve()))
    print(
        f"{args.students} students graded at once, {args.rounds - WARM_UP} measured rounds "
        f"(after {WARM_UP} to warm up), SQLite in WAL mode"
    )
    print("| side | child | CPU ms per graded submission | wall ms per round of the class |")
    print("|---|---|---|---|")
    results: dict[str, list[dict[str, float]]] = {name: [] for name, _ in sides}
    for repeat in range(args.repeat):
        for name, source in sides if repeat % 2 == 0 else sides[::-1]:
            got = run_child(source, args.students, args.rounds)
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
