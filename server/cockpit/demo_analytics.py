"""A demo's analytics over every session of it in a classroom: followers and detachers per
step, quiz correctness per question.

Detachers and quiz answers are counted by SQL. Followers need the timeline replayed in order
(:func:`rooms.cockpit.demo.followers_per_step`): the rows read are one demo's timelines (a
class times the steps, per session), never the classroom's history.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from rooms.cockpit.demo import followers_per_step
from rooms.demos.timeline import TimelineKind, TimelineRecord
from server.models import DemoSession, DemoTimelineEvent, QuizAnswer, Room
from server.models.clock import as_utc


def _sessions(classroom_id: int, demo_id: str) -> Any:
    return (
        select(DemoSession.id)
        .join(Room, col(Room.id) == DemoSession.room_id)
        .where(Room.classroom_id == classroom_id, DemoSession.demo_id == demo_id)
    )


async def demo_analytics(session: AsyncSession, classroom_id: int, demo_id: str) -> dict[str, Any]:
    ids = list((await session.exec(_sessions(classroom_id, demo_id))).all())
    detachers = await session.exec(
        select(DemoTimelineEvent.step, func.count(func.distinct(DemoTimelineEvent.user_id)))
        .where(
            col(DemoTimelineEvent.session_id).in_(ids),
            DemoTimelineEvent.kind == TimelineKind.DETACHED.value,
            col(DemoTimelineEvent.step).is_not(None),
        )
        .group_by(col(DemoTimelineEvent.step))
    )
    detached = {int(step): int(n) for step, n in detachers.all() if step is not None}
    followed: dict[int, set[int]] = {}
    for sid in ids:
        rows = await session.exec(
            select(DemoTimelineEvent)
            .where(DemoTimelineEvent.session_id == sid)
            .order_by(col(DemoTimelineEvent.at), col(DemoTimelineEvent.id))
        )
        records = [
            TimelineRecord(TimelineKind(r.kind), r.step, as_utc(r.at).timestamp(), r.user_id)
            for r in rows.all()
        ]
        for step, users in followers_per_step(records).items():
            followed.setdefault(step, set()).update(users)
    quiz = await session.exec(
        select(
            QuizAnswer.step,
            func.count(),
            func.count(func.distinct(QuizAnswer.user_id)),
            func.sum(case((col(QuizAnswer.correct).is_(True), 1), else_=0)),
        )
        .where(col(QuizAnswer.session_id).in_(ids))
        .group_by(col(QuizAnswer.step))
        .order_by(col(QuizAnswer.step))
    )
    steps = sorted(set(followed) | set(detached))
    return {
        "demo_id": demo_id,
        "sessions": len(ids),
        "steps": [
            {
                "step": step,
                "followers": len(followed.get(step, ())),
                "detachers": detached.get(step, 0),
            }
            for step in steps
        ],
        "quiz": [
            {
                "step": step,
                "answers": int(n),
                "students": int(who),
                "correct": int(right or 0),
                "rate": round(int(right or 0) / int(n), 4) if n else None,
            }
            for step, n, who, right in quiz.all()
        ],
    }
