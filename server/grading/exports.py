"""Grade exports of a classroom: the latest submission per student and exercise, as CSV or
as Gradescope-compatible ``results.json``."""

from __future__ import annotations

import csv
import io
from typing import Any

from sqlmodel import col, func, select

from server.cockpit.feedback import latest_overrides
from server.models import Submission, User
from server.store import Store


async def latest_grades(store: Store, classroom_id: int) -> list[tuple[Submission, str]]:
    async with store.session() as session:
        latest = (
            select(func.max(Submission.id))
            .where(Submission.classroom_id == classroom_id)
            .group_by(col(Submission.user_id), col(Submission.exercise_id))
        )
        rows = await session.exec(
            select(Submission, User.name)
            .join(User, col(User.id) == Submission.user_id)
            .where(col(Submission.id).in_(latest))
            .order_by(col(User.name), col(Submission.exercise_id))
        )
        return [(row, name) for row, name in rows.all()]


async def export_csv(store: Store, classroom_id: int) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "student_id",
            "student",
            "exercise",
            "attempt",
            "status",
            "score",
            "max_score",
            "submitted_at",
            *OVERRIDE_COLUMNS,
        ]
    )
    overrides = await _overrides(store, classroom_id)
    for row, name in await latest_grades(store, classroom_id):
        writer.writerow(
            [
                row.user_id,
                name,
                row.exercise_id,
                row.attempt,
                row.status,
                row.score,
                row.max_score,
                row.submitted_at.isoformat(),
                *_override_cells(overrides.get(row.id or 0)),
            ]
        )
    return out.getvalue()


async def export_json(store: Store, classroom_id: int) -> dict[str, Any]:
    """Gradescope-compatible ``results.json`` per student and exercise."""
    students: dict[int, dict[str, Any]] = {}
    overrides = await _overrides(store, classroom_id)
    for row, name in await latest_grades(store, classroom_id):
        entry = students.setdefault(
            row.user_id, {"student_id": row.user_id, "name": name, "exercises": {}}
        )
        entry["exercises"][row.exercise_id] = row.results or {
            "score": 0,
            "max_score": row.max_score or 0,
            "output": row.error or "not graded",
            "tests": [],
        }
        if row.id in overrides:
            # Beside the automatic grade, never instead of it.
            entry["exercises"][row.exercise_id] = {
                **entry["exercises"][row.exercise_id],
                "override": overrides[row.id],
            }
    return {"classroom_id": classroom_id, "students": list(students.values())}


# Score overrides by hand (the cockpit), beside the automatic grade.
OVERRIDE_COLUMNS = ["override_score", "override_comment", "override_by", "override_at"]


async def _overrides(store: Store, classroom_id: int) -> dict[int, dict[str, Any]]:
    async with store.session() as session:
        return await latest_overrides(session, classroom_id)


def _override_cells(override: dict[str, Any] | None) -> list[Any]:
    if override is None:
        return ["", "", "", ""]
    return [override["score"], override["comment"], override["by"]["name"], override["at"]]
