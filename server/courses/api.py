"""A classroom's course: upload (import), and the exercises and demos it holds."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

from sqlmodel import col, select

from rooms.demos.definition import from_dict as demo_from_dict
from sandbox.grading import Exercise, IOTest, UnitTest, ValueTest, Visibility
from sandbox.grading.schema import exercise_from_dict
from server.api.base import Ctx, endpoint
from server.classrooms.access import classroom_access
from server.courses import log as course_log
from server.courses.importer import MAX_ARCHIVE_BYTES, CourseError, import_upload
from server.exceptions import BadRequest, NotFound
from server.models import Demo, ExerciseRecord, Role
from server.models.clock import utcnow
from server.security.bodies import spool_body


def public_exercise(exercise: Exercise, *, staff: bool, now: datetime) -> dict[str, Any]:
    """What a member sees of an exercise: staff everything, students what visibility allows."""
    before_due = exercise.due is None or now < exercise.due
    tests: list[dict[str, Any]] = []
    for test in exercise.tests:
        if not staff and test.visibility is Visibility.AFTER_DUE and before_due:
            continue
        entry: dict[str, Any] = {"name": test.name, "visibility": test.visibility.value}
        if isinstance(test, IOTest):
            entry["points"] = test.points
            if staff or test.visibility is Visibility.VISIBLE:
                entry.update(stdin=test.stdin, args=list(test.args), expected=test.expected)
        elif isinstance(test, ValueTest):
            entry["points"] = test.points
            if staff or test.visibility is Visibility.VISIBLE:
                entry.update(function=test.function, args=list(test.args), expected=test.expected)
        elif isinstance(test, UnitTest):
            entry["points"] = sum(c.points for c in test.cases)
            entry["cases"] = [c.name for c in test.cases]
            if staff or test.visibility is Visibility.VISIBLE:
                entry["source"] = test.source
        tests.append(entry)
    return {
        "id": exercise.id,
        "title": exercise.title,
        "language": exercise.language,
        "prompt": exercise.prompt,
        "starter": exercise.starter,
        "due": exercise.due.isoformat() if exercise.due else None,
        "max_score": exercise.max_score,
        # Percent off per attempt (the last value repeats), so a page can warn before one.
        "attempt_penalties": list(exercise.penalties.attempts),
        "tests": tests,
    }


@endpoint("POST", "/api/classrooms/{classroom_id:id}/course", tag="course")
async def upload_course(ctx: Ctx) -> dict[str, Any]:
    """Import a course archive (zip or tar.gz of exercises/ and demos/) into a classroom."""
    classroom_id = ctx.path_int("classroom_id")
    async with ctx.session() as session:
        await classroom_access(session, classroom_id, ctx.caller.user_id, roles=(Role.INSTRUCTOR,))
    with await spool_body(ctx.request, MAX_ARCHIVE_BYTES) as archive:
        if archive.seek(0, io.SEEK_END) == 0:
            raise BadRequest(
                "send the course archive (zip or tar.gz) as the body", code="empty_body"
            )
        try:
            report = await import_upload(ctx.components.store, classroom_id, archive)
        except CourseError as exc:
            await course_log.record(
                ctx.components.store, classroom_id, ctx.caller.user_id, errors=str(exc)
            )
            raise BadRequest(str(exc), code="invalid_course") from None
    await course_log.record(
        ctx.components.store, classroom_id, ctx.caller.user_id, report=report.to_dict()
    )
    return report.to_dict()


@endpoint("GET", "/api/classrooms/{classroom_id:id}/exercises", tag="course")
async def list_exercises(ctx: Ctx) -> dict[str, Any]:
    """The classroom's exercises as the caller may see them."""
    classroom_id = ctx.path_int("classroom_id")
    async with ctx.session() as session:
        _, role = await classroom_access(session, classroom_id, ctx.caller.user_id)
        rows = await session.exec(
            select(ExerciseRecord)
            .where(ExerciseRecord.classroom_id == classroom_id)
            .order_by(col(ExerciseRecord.exercise_id))
        )
        records = list(rows.all())
    now = utcnow()
    return {
        "exercises": [
            public_exercise(exercise_from_dict(r.definition), staff=role.is_staff, now=now)
            for r in records
        ]
    }


@endpoint("GET", "/api/classrooms/{classroom_id:id}/exercises/{exercise_id:str}", tag="course")
async def get_exercise(ctx: Ctx) -> dict[str, Any]:
    """One exercise as the caller may see it."""
    classroom_id = ctx.path_int("classroom_id")
    exercise_id = ctx.request.path_params["exercise_id"]
    async with ctx.session() as session:
        _, role = await classroom_access(session, classroom_id, ctx.caller.user_id)
        record = await load_exercise_record(session, classroom_id, exercise_id)
    exercise = exercise_from_dict(record.definition)
    return public_exercise(exercise, staff=role.is_staff, now=utcnow())


async def load_exercise_record(session: Any, classroom_id: int, exercise_id: str) -> ExerciseRecord:
    record = (
        await session.exec(
            select(ExerciseRecord).where(
                ExerciseRecord.classroom_id == classroom_id,
                ExerciseRecord.exercise_id == exercise_id,
            )
        )
    ).first()
    if record is None:
        raise NotFound(f"exercise {exercise_id!r} does not exist", code="unknown_exercise")
    assert isinstance(record, ExerciseRecord)
    return record


@endpoint("GET", "/api/classrooms/{classroom_id:id}/demos", tag="course")
async def list_demos(ctx: Ctx) -> dict[str, Any]:
    """The classroom's demos: staff get every step, students the outline."""
    classroom_id = ctx.path_int("classroom_id")
    async with ctx.session() as session:
        _, role = await classroom_access(session, classroom_id, ctx.caller.user_id)
        rows = await session.exec(
            select(Demo).where(Demo.classroom_id == classroom_id).order_by(col(Demo.demo_id))
        )
        demos = list(rows.all())
    out = []
    for row in demos:
        demo = demo_from_dict(row.definition)
        entry: dict[str, Any] = {
            "id": demo.id,
            "title": demo.title,
            "description": demo.description,
            "difficulty": demo.difficulty.value,
            "steps": len(demo.steps),
        }
        if role.is_staff:
            entry["definition"] = row.definition
        out.append(entry)
    return {"demos": out}


routes = [upload_course, list_exercises, get_exercise, list_demos]
