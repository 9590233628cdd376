"""``GET /api/classrooms/{id}/students/{user_id}/progress``: one student's own progress page.

Earned and locked achievements (icons and conditions), XP over time (per day, cumulative),
the streak calendar (the days with XP or a submission), rank and percentile in the class by
XP, and the skill radar over the exercises' topic tags (an exercise's ``tags``, else its
language). A student may read only their own; the classroom's staff any student's.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select

from rooms.skills import achievement_view, radar, rank_and_percentile
from server.api.base import Ctx, endpoint
from server.classrooms.access import classroom_access
from server.exceptions import Forbidden, NotFound
from server.models import (
    AchievementUnlock,
    ExerciseRecord,
    Membership,
    Progress,
    Streak,
    Submission,
    User,
    XpEvent,
)
from server.models.clock import as_utc

CALENDAR_DAYS = 120


@endpoint("GET", "/api/classrooms/{classroom_id:id}/students/{user_id:id}/progress", tag="progress")
async def student_progress(ctx: Ctx) -> dict[str, Any]:
    """A student's achievements, XP over time, streak calendar, rank and skill radar."""
    classroom_id, user_id = ctx.path_int("classroom_id"), ctx.path_int("user_id")
    catalog = ctx.components.gamification.catalog
    async with ctx.session() as s:
        _, role = await classroom_access(s, classroom_id, ctx.caller.user_id)
        if not role.is_staff and user_id != ctx.caller.user_id:
            raise Forbidden("a student sees only their own progress", code="not_yours")
        member = (
            await s.exec(
                select(User.name)
                .join(Membership, col(Membership.user_id) == User.id)
                .where(Membership.classroom_id == classroom_id, User.id == user_id)
            )
        ).first()
        if member is None:
            raise NotFound(f"user {user_id} is not in this classroom", code="not_a_member")
        xp_rows = (
            await s.exec(
                select(XpEvent.amount, XpEvent.created_at, XpEvent.reason)
                .where(XpEvent.classroom_id == classroom_id, XpEvent.user_id == user_id)
                .order_by(col(XpEvent.created_at))
            )
        ).all()
        totals = (
            await s.exec(
                select(Membership.user_id, func.coalesce(func.sum(XpEvent.amount), 0))
                .join(
                    XpEvent,
                    (col(XpEvent.user_id) == Membership.user_id)
                    & (col(XpEvent.classroom_id) == classroom_id),
                    isouter=True,
                )
                .where(Membership.classroom_id == classroom_id, Membership.role == "student")
                .group_by(col(Membership.user_id))
            )
        ).all()
        unlocked = dict(
            (
                await s.exec(
                    select(AchievementUnlock.achievement_id, AchievementUnlock.unlocked_at).where(
                        AchievementUnlock.user_id == user_id
                    )
                )
            ).all()
        )
        streak = (
            await s.exec(
                select(Streak).where(Streak.user_id == user_id, Streak.classroom_id == classroom_id)
            )
        ).first()
        exercises = (
            await s.exec(select(ExerciseRecord).where(ExerciseRecord.classroom_id == classroom_id))
        ).all()
        progress = (
            await s.exec(
                select(Progress).where(
                    Progress.user_id == user_id, Progress.classroom_id == classroom_id
                )
            )
        ).all()
        submitted = (
            await s.exec(
                select(Submission.submitted_at).where(
                    Submission.user_id == user_id, Submission.classroom_id == classroom_id
                )
            )
        ).all()
    by_day: dict[date, int] = defaultdict(int)
    for amount, at, _ in xp_rows:
        by_day[as_utc(at).date()] += amount
    running, series = 0, []
    for day in sorted(by_day):
        running += by_day[day]
        series.append({"day": day.isoformat(), "xp": by_day[day], "total": running})
    active = sorted(
        {d.isoformat() for d in by_day} | {as_utc(t).date().isoformat() for t in submitted}
    )
    rank, percentile = rank_and_percentile(running, [int(t) for _, t in totals])
    scores = {
        p.exercise_id: (p.best_score / p.max_score if p.max_score else float(p.passed))
        for p in progress
    }
    tags_of = {e.exercise_id: list(e.definition.get("tags") or [e.language]) for e in exercises}
    return {
        "user": {"id": user_id, "name": member},
        "xp": {"total": running, "series": series},
        "rank": {"rank": rank, "of": len(totals), "percentile": percentile},
        "streak": {
            "current": streak.current if streak else 0,
            "longest": streak.longest if streak else 0,
            "days": active[-CALENDAR_DAYS:],
        },
        "achievements": [
            achievement_view(a, as_utc(unlocked[a.id]).isoformat() if a.id in unlocked else None)
            for a in catalog
        ],
        "exercises": {
            "total": len(exercises),
            "passed": sum(p.passed for p in progress),
        },
        "radar": radar(tags_of, scores),
    }


routes = [student_progress]
