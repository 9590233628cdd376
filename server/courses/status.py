"""``GET /api/classrooms/{id}/course``: the loaded course and the last import (staff)."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from server.api.base import Ctx, endpoint
from server.classrooms.access import classroom_access
from server.courses.log import last
from server.models import Demo, ExerciseRecord, Role


@endpoint("GET", "/api/classrooms/{classroom_id:id}/course", tag="course")
async def course_status(ctx: Ctx) -> dict[str, Any]:
    """The exercises and demos a classroom holds, and how its last import went (staff)."""
    classroom_id = ctx.path_int("classroom_id")
    async with ctx.session() as session:
        await classroom_access(
            session, classroom_id, ctx.caller.user_id, roles=(Role.INSTRUCTOR, Role.ASSISTANT)
        )
        exercises = (
            await session.exec(
                select(ExerciseRecord)
                .where(ExerciseRecord.classroom_id == classroom_id)
                .order_by(col(ExerciseRecord.exercise_id))
            )
        ).all()
        demos = (
            await session.exec(
                select(Demo).where(Demo.classroom_id == classroom_id).order_by(col(Demo.demo_id))
            )
        ).all()
    return {
        "exercises": [
            {"id": r.exercise_id, "title": r.title, "language": r.language, "version": r.version}
            for r in exercises
        ],
        "demos": [{"id": d.demo_id, "title": d.title} for d in demos],
        "last_import": await last(ctx.components.store, classroom_id),
    }


routes = [course_status]
