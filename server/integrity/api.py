"""Endpoints of academic integrity: the similarity report of an exercise and one pair side
by side (staff), instructors' reviews, and the typing history of a document (staff).

Who sees the history: instructors and assistants only, a student not even their own
document's. The timeline exists to judge integrity signals (pastes), and those are for the
people who judge; a student already has their file and its text.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field
from starlette.routing import BaseRoute

from rooms.documents import parse_document_name
from rooms.exceptions import InvalidDocumentName
from server.api.base import Ctx, endpoint
from server.classrooms.access import classroom_access, room_access
from server.exceptions import BadRequest
from server.ids import Id
from server.integrity.component import Integrity
from server.models import Role

STAFF = (Role.INSTRUCTOR, Role.ASSISTANT)
MAX_PAIRS = 1000


class ReviewBody(BaseModel):
    a_submission_id: Id
    b_submission_id: Id
    verdict: Literal["confirmed", "dismissed"]
    penalize: list[Id] | None = Field(
        default=None, max_length=2, description="students to penalise (default: both)"
    )
    note: str = Field(default="", max_length=1000)


def _integrity(ctx: Ctx) -> Integrity:
    component: Integrity = ctx.components.integrity
    return component


def _query_number(ctx: Ctx, name: str, default: float, low: float, high: float) -> float:
    raw = ctx.request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a number", code="invalid_query") from None
    if not low <= value <= high:
        raise BadRequest(f"{name} must be between {low:g} and {high:g}", code="invalid_query")
    return value


@endpoint(
    "GET",
    "/api/classrooms/{classroom_id:id}/exercises/{exercise_id:str}/similarity",
    tag="integrity",
)
async def similarity_report(ctx: Ctx) -> dict[str, Any]:
    """The most similar pairs of an exercise's latest submissions, with matched fragments."""
    classroom_id = ctx.path_int("classroom_id")
    limit = int(_query_number(ctx, "limit", 50, 1, MAX_PAIRS))
    least = _query_number(ctx, "min_similarity", 0.0, 0.0, 1.0)
    async with ctx.session() as session:
        await classroom_access(session, classroom_id, ctx.caller.user_id, roles=STAFF)
    return await _integrity(ctx).report(
        classroom_id, ctx.request.path_params["exercise_id"], limit=limit, min_similarity=least
    )


@endpoint(
    "GET",
    "/api/classrooms/{classroom_id:id}/exercises/{exercise_id:str}/similarity/{a:id}/{b:id}",
    tag="integrity",
)
async def similarity_pair(ctx: Ctx) -> dict[str, Any]:
    """Two submissions side by side: texts, fragments, and each author's paste events."""
    classroom_id = ctx.path_int("classroom_id")
    async with ctx.session() as session:
        await classroom_access(session, classroom_id, ctx.caller.user_id, roles=STAFF)
    return await _integrity(ctx).pair(
        classroom_id,
        ctx.request.path_params["exercise_id"],
        ctx.path_int("a"),
        ctx.path_int("b"),
    )


@endpoint(
    "POST",
    "/api/classrooms/{classroom_id:id}/exercises/{exercise_id:str}/similarity/reviews",
    body=ReviewBody,
    tag="integrity",
)
async def similarity_review(ctx: Ctx) -> dict[str, Any]:
    """An instructor confirms or dismisses a pair; a confirmation may apply the penalty."""
    classroom_id = ctx.path_int("classroom_id")
    body = ctx.body(ReviewBody)
    async with ctx.session() as session:
        await classroom_access(session, classroom_id, ctx.caller.user_id, roles=(Role.INSTRUCTOR,))
    return await _integrity(ctx).review(
        classroom_id,
        ctx.request.path_params["exercise_id"],
        ctx.caller.user_id,
        body.a_submission_id,
        body.b_submission_id,
        verdict=body.verdict,
        penalize=body.penalize,
        note=body.note,
    )


@endpoint("GET", "/api/rooms/{room_id:id}/docs/{doc:path}/history", tag="integrity")
async def document_history(ctx: Ctx) -> dict[str, Any]:
    """The typing history of a document: updates with time, author, change and paste marks."""
    room_id = ctx.path_int("room_id")
    doc = ctx.request.path_params["doc"]
    try:
        parse_document_name(doc)
    except InvalidDocumentName as exc:
        raise BadRequest(str(exc), code="invalid_document") from None
    async with ctx.session() as session:
        access = await room_access(session, room_id, ctx.caller.user_id, staff=True)
    return await _integrity(ctx).timeline(access.room, doc)


routes: list[BaseRoute] = [similarity_report, similarity_pair, similarity_review, document_history]
