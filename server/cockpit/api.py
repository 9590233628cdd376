"""The cockpit over HTTP: the class grid, exercise analytics (JSON or CSV), hints (a
student's view, bought, pushed by staff), score overrides and inline comments.

Every endpoint checks the caller's current role (:func:`room_access`/`classroom_access`):
the grid, analytics, pushes and overrides are staff only; a student sees only their own
hints, their own submissions' overrides and comments on files they may open.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints
from sqlmodel import select
from starlette.responses import Response

from server.api.base import Ctx, endpoint
from server.api.schemas import Strict
from server.classrooms.access import RoomAccess, classroom_access, room_access
from server.cockpit.analytics import analytics_csv, exercise_analytics
from server.cockpit.component import Cockpit
from server.cockpit.demo_analytics import demo_analytics
from server.cockpit.grid import room_grid
from server.exceptions import BadRequest, Forbidden, NotFound
from server.ids import Id, parse_id
from server.models import ExerciseRecord, Role, Submission, User
from server.models.clock import utcnow

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
STAFF_ROLES = (Role.INSTRUCTOR, Role.ASSISTANT)


class BuyBody(Strict):
    test: Annotated[str, Field(min_length=1, max_length=200)]


class PushBody(Strict):
    to: Literal["student", "stuck", "room"]
    user_id: Id | None = None
    test: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    message: Text | None = None


class OverrideBody(Strict):
    score: Annotated[float, Field(ge=0, le=1_000_000)]
    comment: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] = ""


class CommentBody(Strict):
    doc: Annotated[str, Field(min_length=1, max_length=200)]
    body: Text
    anchor: Annotated[str, Field(max_length=400)] = ""
    line: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    parent_id: Id | None = None


def _cockpit(ctx: Ctx) -> Cockpit:
    return ctx.components.cockpit


async def _room(ctx: Ctx, *, staff: bool = False) -> RoomAccess:
    async with ctx.session() as session:
        return await room_access(session, ctx.path_int("room_id"), ctx.caller.user_id, staff=staff)


async def _record(ctx: Ctx, classroom_id: int) -> ExerciseRecord:
    exercise_id = ctx.request.path_params["exercise_id"]
    async with ctx.session() as session:
        record: ExerciseRecord | None = (
            await session.exec(
                select(ExerciseRecord).where(
                    ExerciseRecord.classroom_id == classroom_id,
                    ExerciseRecord.exercise_id == exercise_id,
                )
            )
        ).first()
    if record is None:
        raise NotFound(f"exercise {exercise_id!r} does not exist", code="unknown_exercise")
    return record


@endpoint("GET", "/api/rooms/{room_id:id}/progress", tag="cockpit")
async def progress(ctx: Ctx) -> dict[str, Any]:
    """The class grid: a cell per student and exercise, stuck ones first (staff)."""
    room = await _room(ctx, staff=True)
    async with ctx.session() as session:
        return await room_grid(session, room.room_id, room.room.classroom_id, utcnow())


@endpoint(
    "GET", "/api/classrooms/{classroom_id:id}/exercises/{exercise_id:str}/analytics", tag="cockpit"
)
async def analytics(ctx: Ctx) -> dict[str, Any] | Response:
    """Pass rate, attempts, time to first pass, failing tests, common errors (staff);
    ``?format=csv`` for a CSV file."""
    classroom_id = ctx.path_int("classroom_id")
    async with ctx.session() as session:
        await classroom_access(session, classroom_id, ctx.caller.user_id, roles=STAFF_ROLES)
    record = await _record(ctx, classroom_id)
    async with ctx.session() as session:
        data = await exercise_analytics(session, classroom_id, record.exercise_id)
    data["title"] = record.title
    fmt = ctx.request.query_params.get("format", "json")
    if fmt == "csv":
        name = f"analytics-{classroom_id}-{record.exercise_id}.csv"
        return Response(
            analytics_csv(data),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    if fmt != "json":
        raise BadRequest("format is json or csv", code="invalid_format")
    return data


@endpoint("GET", "/api/classrooms/{classroom_id:id}/demos/{demo_id:str}/analytics", tag="cockpit")
async def demo_analytics_endpoint(ctx: Ctx) -> dict[str, Any]:
    """Followers and detachers per step, quiz correctness per question, over every session of
    the demo in the classroom (staff)."""
    classroom_id = ctx.path_int("classroom_id")
    demo_id = ctx.request.path_params["demo_id"]
    async with ctx.session() as session:
        await classroom_access(session, classroom_id, ctx.caller.user_id, roles=STAFF_ROLES)
        return await demo_analytics(session, classroom_id, demo_id)


@endpoint("GET", "/api/rooms/{room_id:id}/exercises/{exercise_id:str}/hints", tag="cockpit")
async def hints(ctx: Ctx) -> dict[str, Any]:
    """The caller's unlocked hints and explanations (staff: ``?user_id=`` for a student's)."""
    room = await _room(ctx)
    user_id = ctx.caller.user_id
    raw = ctx.request.query_params.get("user_id")
    if raw is not None:
        asked = parse_id(raw)
        if asked is None:
            raise BadRequest("user_id must be a number", code="invalid_user")
        if asked != user_id and not room.is_staff:
            raise Forbidden("a student sees only their own hints", code="staff_only")
        user_id = asked
    record = await _record(ctx, room.room.classroom_id)
    return await _cockpit(ctx).hints.view(record, user_id, utcnow())


@endpoint(
    "POST",
    "/api/rooms/{room_id:id}/exercises/{exercise_id:str}/hints",
    body=BuyBody,
    status=201,
    tag="cockpit",
)
async def buy_hint(ctx: Ctx) -> dict[str, Any]:
    """Unlock the next hint of a test for the exercise's XP cost."""
    room = await _room(ctx)
    record = await _record(ctx, room.room.classroom_id)
    test = ctx.body(BuyBody).test
    return await _cockpit(ctx).hints.buy(record, room.room_id, ctx.caller.user_id, test, utcnow())


@endpoint(
    "POST",
    "/api/rooms/{room_id:id}/exercises/{exercise_id:str}/hints/push",
    body=PushBody,
    tag="cockpit",
)
async def push_hint(ctx: Ctx) -> dict[str, Any]:
    """Push the next hint and/or a message to one student, the stuck ones, or the room."""
    room = await _room(ctx, staff=True)
    body = ctx.body(PushBody)
    record = await _record(ctx, room.room.classroom_id)
    now = utcnow()
    async with ctx.session() as session:
        grid = await room_grid(session, room.room_id, room.room.classroom_id, now)
    students = [s["id"] for s in grid["students"]]
    if body.to == "student":
        if body.user_id not in students:
            raise BadRequest("user_id: a student of this classroom", code="invalid_user")
        users = [int(body.user_id or 0)]
    elif body.to == "stuck":
        # The grid lists stuck cells first, stuck longest on top.
        here = [c for c in grid["cells"] if c["stuck"] and c["exercise_id"] == record.exercise_id]
        users = list(dict.fromkeys(c["user_id"] for c in here))
    else:
        users = students
    async with ctx.session() as session:
        me = await session.get(User, ctx.caller.user_id)
    return await _cockpit(ctx).hints.push(
        record,
        room.room_id,
        users,
        test=body.test,
        message=body.message,
        sender_id=ctx.caller.user_id,
        sender=me.name if me else "",
        now=now,
    )


async def _submission(ctx: Ctx) -> tuple[Submission, bool]:
    async with ctx.session() as session:
        row = await session.get(Submission, ctx.path_int("submission_id"))
        if row is None:
            raise NotFound("no such submission", code="unknown_submission")
        _, role = await classroom_access(session, row.classroom_id, ctx.caller.user_id)
    return row, role.is_staff


@endpoint(
    "POST",
    "/api/submissions/{submission_id:id}/override",
    body=OverrideBody,
    status=201,
    tag="cockpit",
)
async def override(ctx: Ctx) -> dict[str, Any]:
    """Set a submission's score by hand, with a comment (staff; audited)."""
    row, staff = await _submission(ctx)
    if not staff:
        raise Forbidden("only instructors and assistants may override a score", code="staff_only")
    body = ctx.body(OverrideBody)
    return await _cockpit(ctx).feedback.override(
        row, ctx.caller.user_id, body.score, body.comment, utcnow()
    )


@endpoint("GET", "/api/submissions/{submission_id:id}/overrides", tag="cockpit")
async def overrides(ctx: Ctx) -> dict[str, Any]:
    """Every score override of a submission, oldest first (its author and staff)."""
    row, staff = await _submission(ctx)
    if not staff and row.user_id != ctx.caller.user_id:
        raise Forbidden("this is another student's submission", code="not_yours")
    assert row.id is not None
    return {"submission_id": row.id, "overrides": await _cockpit(ctx).feedback.overrides(row.id)}


@endpoint("GET", "/api/rooms/{room_id:id}/comments", tag="cockpit")
async def comments(ctx: Ctx) -> dict[str, Any]:
    """The inline comments of ``?doc=`` (who may open the document)."""
    room = await _room(ctx)
    doc = ctx.request.query_params.get("doc", "")
    return {"doc": doc, "comments": await _cockpit(ctx).feedback.comments(room, doc)}


@endpoint("POST", "/api/rooms/{room_id:id}/comments", body=CommentBody, status=201, tag="cockpit")
async def add_comment(ctx: Ctx) -> dict[str, Any]:
    """Comment on a line of a document, or reply to a comment (a student: at most
    ``CLASSROOM_COMMENTS_PER_MINUTE`` a minute, and ``CLASSROOM_MAX_COMMENTS_PER_DOC`` on one
    file)."""
    room = await _room(ctx)
    body = ctx.body(CommentBody)
    if not room.is_staff:
        limiter = ctx.components.security.limiter
        await limiter.check_budget("comments-user", str(ctx.caller.user_id), "comments")
    return await _cockpit(ctx).feedback.comment(
        room,
        doc=body.doc,
        body=body.body,
        anchor=body.anchor,
        line=body.line,
        parent_id=body.parent_id,
        now=utcnow(),
    )


@endpoint("POST", "/api/rooms/{room_id:id}/comments/{comment_id:id}/resolve", tag="cockpit")
async def resolve_comment(ctx: Ctx) -> dict[str, Any]:
    """Resolve a comment thread (who may open its document)."""
    room = await _room(ctx)
    return await _cockpit(ctx).feedback.resolve(room, ctx.path_int("comment_id"), utcnow())


routes = [
    progress,
    analytics,
    demo_analytics_endpoint,
    hints,
    buy_hint,
    push_hint,
    override,
    overrides,
    comments,
    add_comment,
    resolve_comment,
]
