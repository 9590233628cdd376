"""The class the cockpit benchmark measures, written straight into the database: exercises,
graded submissions with Gradescope-shaped results, progress folded by
:func:`rooms.progress.apply`, and the cockpit's attempt errors and outcomes from the same pure
functions the server uses (bulk inserts: grading 40,000 attempts would measure the sandbox)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import create_engine, insert, select

from rooms.cockpit.errors import first_failure, signature
from rooms.progress import ExerciseProgress, Graded, apply
from sandbox.grading.dump import exercise_to_dict
from sandbox.grading.schema import exercise_from_dict
from server.auth import TokenSigner
from server.models import (
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
from server.store import sync_url

SECRET = "cockpit-bench-secret"
RIGHT = "print(input())\n"
WRONG_OUTPUT = "print(input().upper())\n"
NAMES = ["total", "count", "value", "result", "answer", "word", "line", "data"]


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
    return exercise_to_dict(exercise_from_dict(data))


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
