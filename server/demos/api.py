"""``GET /api/rooms/{id}/demo/timeline``: who was on which step when, in the latest demo
session of a room (staff)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field
from sqlmodel import col, select
from starlette.routing import BaseRoute

from server.api.base import Ctx, endpoint
from server.classrooms.access import room_access
from server.models import DemoSession, DemoTimelineEvent
from server.models.clock import as_utc


class SessionOut(BaseModel):
    id: int
    demo_id: str
    started_at: datetime
    ended_at: datetime | None


class TimelineEventOut(BaseModel):
    kind: str
    step: int | None
    at: datetime
    user_id: int | None


class TimelineOut(BaseModel):
    session: SessionOut | None = Field(description="the room's latest demo session, if any")
    events: list[TimelineEventOut]


@endpoint("GET", "/api/rooms/{room_id:id}/demo/timeline", response=TimelineOut, tag="demos")
async def demo_timeline(ctx: Ctx) -> TimelineOut:
    """The step timeline of the room's latest demo session (staff only)."""
    room_id = ctx.path_int("room_id")
    async with ctx.session() as session:
        await room_access(session, room_id, ctx.caller.user_id, staff=True)
        latest = (
            await session.exec(
                select(DemoSession)
                .where(DemoSession.room_id == room_id)
                .order_by(col(DemoSession.id).desc())
                .limit(1)
            )
        ).first()
        if latest is None or latest.id is None:
            return TimelineOut(session=None, events=[])
        rows = (
            await session.exec(
                select(DemoTimelineEvent)
                .where(DemoTimelineEvent.session_id == latest.id)
                .order_by(col(DemoTimelineEvent.at), col(DemoTimelineEvent.id))
            )
        ).all()
    return TimelineOut(
        session=SessionOut(
            id=latest.id,
            demo_id=latest.demo_id,
            started_at=as_utc(latest.started_at),
            ended_at=as_utc(latest.ended_at) if latest.ended_at else None,
        ),
        events=[
            TimelineEventOut(kind=r.kind, step=r.step, at=as_utc(r.at), user_id=r.user_id)
            for r in rows
        ],
    )


routes: list[BaseRoute] = [demo_timeline]
