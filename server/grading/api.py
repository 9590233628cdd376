"""Submissions, grades, regrades, live exercises and the leaderboard over HTTP (the exports
are the gradebook's: server/gradebook/api.py)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field
from sqlmodel import col, select

from rooms.leaderboard import BoardId
from server.api.base import Ctx, endpoint
from server.api.schemas import Strict
from server.classrooms.access import classroom_access, room_access, room_access_now
from server.exceptions import Forbidden, NotFound
from server.grading.submissions import Submissions, submission_view
from server.models import Role, Submission
from server.models.clock import utcnow


class SubmitBody(Strict):
    doc: Annotated[str, Field(max_length=200)] | None = None
    files: dict[str, Annotated[str, Field(max_length=256 * 1024)]] | None = None


class LiveBody(Strict):
    minutes: Annotated[float, Field(gt=0, le=24 * 60)] = 10.0


def _submissions(ctx: Ctx) -> Submissions:
    return ctx.components.submissions


@endpoint(
    "POST",
    "/api/rooms/{room_id:id}/exercises/{exercise_id:str}/submissions",
    body=SubmitBody,
    status=201,
    tag="grading",
)
async def submit(ctx: Ctx) -> dict[str, Any]:
    """Submit a document or files for grading; answers with the graded result."""
    body = ctx.body(SubmitBody)
    room_id = ctx.path_int("room_id")
    # One hop to the store's thread, as the socket's submit checks it (a class submitting at
    # once makes this the busiest request).
    access = await room_access_now(ctx.components.store, room_id, ctx.caller.user_id)
    files = await _submissions(ctx).sources.files_for(access, doc=body.doc, files=body.files)
    submissions = _submissions(ctx)
    row, exercise, _ = await submissions.accept(
        access.room, ctx.caller.user_id, ctx.request.path_params["exercise_id"], files
    )
    graded = await submissions.grade_now(access.room, row, exercise)
    return submission_view(graded, exercise, staff=access.is_staff, now=utcnow())


@endpoint("GET", "/api/rooms/{room_id:id}/submissions", tag="grading")
async def list_submissions(ctx: Ctx) -> dict[str, Any]:
    """Submissions in a room: all for staff, one's own for a student (newest first)."""
    room_id = ctx.path_int("room_id")
    async with ctx.session() as session:
        access = await room_access(session, room_id, ctx.caller.user_id)
        query = select(Submission).where(Submission.room_id == room_id)
        if not access.is_staff:
            query = query.where(Submission.user_id == ctx.caller.user_id)
        rows = list(
            (await session.exec(query.order_by(col(Submission.id).desc()).limit(200))).all()
        )
    submissions = _submissions(ctx)
    exercises: dict[str, Any] = {}
    out = []
    for row in rows:
        if row.exercise_id not in exercises:
            try:
                exercises[row.exercise_id] = (
                    await submissions.exercise(access.room.classroom_id, row.exercise_id)
                )[1]
            except NotFound:
                continue
        out.append(
            submission_view(row, exercises[row.exercise_id], staff=access.is_staff, now=utcnow())
        )
    return {"submissions": out}


@endpoint("GET", "/api/submissions/{submission_id:id}", tag="grading")
async def get_submission(ctx: Ctx) -> dict[str, Any]:
    """One submission: its author and the room's staff may read it."""
    submission_id = ctx.path_int("submission_id")
    async with ctx.session() as session:
        row = await session.get(Submission, submission_id)
        if row is None or row.room_id is None:
            raise NotFound(f"submission {submission_id} does not exist")
        access = await room_access(session, row.room_id, ctx.caller.user_id)
    if not access.is_staff and row.user_id != ctx.caller.user_id:
        raise Forbidden("this is another student's submission", code="not_yours")
    _, exercise = await _submissions(ctx).exercise(access.room.classroom_id, row.exercise_id)
    return submission_view(row, exercise, staff=access.is_staff, now=utcnow())


@endpoint(
    "POST",
    "/api/classrooms/{classroom_id:id}/exercises/{exercise_id:str}/regrade",
    status=202,
    tag="grading",
)
async def start_regrade(ctx: Ctx) -> dict[str, Any]:
    """Regrade the latest submission of every student (instructors); progress as events."""
    classroom_id = ctx.path_int("classroom_id")
    async with ctx.session() as session:
        await classroom_access(session, classroom_id, ctx.caller.user_id, roles=(Role.INSTRUCTOR,))
    return dict(
        await _submissions(ctx).start_regrade(classroom_id, ctx.request.path_params["exercise_id"])
    )


@endpoint(
    "GET", "/api/classrooms/{classroom_id:id}/exercises/{exercise_id:str}/regrade", tag="grading"
)
async def regrade_status(ctx: Ctx) -> dict[str, Any]:
    """How far the last regrade of an exercise got (staff)."""
    classroom_id = ctx.path_int("classroom_id")
    async with ctx.session() as session:
        await classroom_access(
            session, classroom_id, ctx.caller.user_id, roles=(Role.INSTRUCTOR, Role.ASSISTANT)
        )
    status = _submissions(ctx).regrades.get((classroom_id, ctx.request.path_params["exercise_id"]))
    if status is None:
        raise NotFound("no regrade of this exercise has run in this process", code="no_regrade")
    return dict(status)


@endpoint(
    "POST",
    "/api/rooms/{room_id:id}/exercises/{exercise_id:str}/live",
    body=LiveBody,
    status=201,
    tag="grading",
)
async def open_live(ctx: Ctx) -> dict[str, Any]:
    """Open an exercise live in a room for some minutes: earlier passes earn more XP."""
    body = ctx.body(LiveBody)
    room_id = ctx.path_int("room_id")
    async with ctx.session() as session:
        access = await room_access(session, room_id, ctx.caller.user_id, staff=True)
    return await _submissions(ctx).open_live(
        access.room, ctx.request.path_params["exercise_id"], body.minutes
    )


@endpoint("GET", "/api/rooms/{room_id:id}/leaderboard", tag="grading")
async def leaderboard(ctx: Ctx) -> dict[str, Any]:
    """The room's live leaderboard and its classroom's board for this week."""
    room_id = ctx.path_int("room_id")
    async with ctx.session() as session:
        access = await room_access(session, room_id, ctx.caller.user_id)
    gamification = _submissions(ctx).gamification
    room_board = await gamification.standings(BoardId.room(room_id))
    weekly = await gamification.standings(BoardId.weekly(access.room.classroom_id, utcnow()))
    return {"room": room_board, "weekly": weekly}


routes = [
    submit,
    list_submissions,
    get_submission,
    start_regrade,
    regrade_status,
    open_live,
    leaderboard,
]
