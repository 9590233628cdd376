"""LTI over the JSON API: platform registration (registrars), registration invites, the
passback status of every grade (staff), retrying failed ones and syncing the roster from the
LMS (instructors)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import StringConstraints
from sqlmodel import col, select

from server.api.base import Ctx, endpoint
from server.api.schemas import Strict
from server.classrooms.access import classroom_access
from server.exceptions import Forbidden, NotFound, ServiceUnavailable
from server.lti import nrps, platforms
from server.lti.exceptions import PlatformError
from server.lti.passback import requeue_unlinked
from server.lti.platforms import PlatformSpec
from server.lti.registration import Invites
from server.lti.tool import LtiTool
from server.models import LtiContext, LtiGradeSync, Role, User
from server.models.clock import utcnow

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1024)]


class PlatformBody(Strict):
    issuer: Text
    client_id: Text
    deployment_id: Text
    auth_url: Text
    token_url: Text
    jwks_url: Text


def _tool(ctx: Ctx) -> LtiTool:
    found: LtiTool = ctx.components.lti
    return found


async def _require_registrar(ctx: Ctx) -> None:
    ctx.require_instructor()
    async with ctx.session() as session:
        user = await session.get(User, ctx.caller.user_id)
    if user is None or (user.email or "").lower() not in _tool(ctx).registrars():
        raise Forbidden(
            "only the instructors named in CLASSROOM_LTI_REGISTRARS may register platforms",
            code="not_a_registrar",
        )


@endpoint("POST", "/api/lti/platforms", body=PlatformBody, status=201, tag="lti")
async def register_platform(ctx: Ctx) -> dict[str, Any]:
    """Register an LMS platform and deployment (registrars; again = update)."""
    await _require_registrar(ctx)
    body = ctx.body(PlatformBody)
    async with ctx.session() as session:
        platform, created = await platforms.register(session, PlatformSpec(**body.model_dump()))
    return {
        "id": platform.id,
        "issuer": platform.issuer,
        "client_id": platform.client_id,
        "created": created,
    }


@endpoint("GET", "/api/lti/platforms", tag="lti")
async def list_platforms(ctx: Ctx) -> dict[str, Any]:
    """The registered platforms (registrars)."""
    await _require_registrar(ctx)
    async with ctx.session() as session:
        return {"platforms": await platforms.listing(session)}


@endpoint("POST", "/api/lti/registration-invites", status=201, tag="lti")
async def invite(ctx: Ctx) -> dict[str, Any]:
    """A Dynamic Registration URL to paste into the LMS, valid for a day (registrars)."""
    await _require_registrar(ctx)
    token = Invites(ctx.components.settings.secret_key).make(ctx.caller.user_id)
    return {"url": f"{_tool(ctx).base_url(ctx.request)}/lti/register?invite={token}"}


async def _context(ctx: Ctx, roles: tuple[Role, ...]) -> LtiContext:
    classroom_id = ctx.path_int("classroom_id")
    async with ctx.session() as session:
        await classroom_access(session, classroom_id, ctx.caller.user_id, roles=roles)
        context: LtiContext | None = (
            await session.exec(select(LtiContext).where(LtiContext.classroom_id == classroom_id))
        ).first()
    if context is None:
        raise NotFound("this classroom is not bound to an LMS course", code="not_from_lms")
    return context


@endpoint("GET", "/api/classrooms/{classroom_id:id}/lti/grades", tag="lti")
async def grade_status(ctx: Ctx) -> dict[str, Any]:
    """Where each student's grade stands in the LMS gradebook (staff)."""
    context = await _context(ctx, (Role.INSTRUCTOR, Role.ASSISTANT))
    async with ctx.session() as session:
        rows = (
            await session.exec(
                select(LtiGradeSync)
                .where(LtiGradeSync.lti_context_id == context.id)
                .order_by(col(LtiGradeSync.user_id), col(LtiGradeSync.exercise_id))
            )
        ).all()
    return {
        "grades": [
            {
                "user_id": r.user_id,
                "exercise_id": r.exercise_id,
                "submission_id": r.submission_id,
                "score": r.score,
                "max_score": r.max_score,
                "status": r.status,
                "attempts": r.attempts,
                "last_error": r.last_error,
                "sent_at": r.sent_at.isoformat() if r.sent_at else None,
            }
            for r in rows
        ]
    }


@endpoint("POST", "/api/classrooms/{classroom_id:id}/lti/grades/retry", tag="lti")
async def retry_grades(ctx: Ctx) -> dict[str, Any]:
    """Send failed grades again (instructors)."""
    context = await _context(ctx, (Role.INSTRUCTOR,))
    async with ctx.session() as session:
        rows = (
            await session.exec(
                select(LtiGradeSync).where(
                    LtiGradeSync.lti_context_id == context.id,
                    col(LtiGradeSync.status).in_(["failed", "no_lms_user"]),
                )
            )
        ).all()
        for row in rows:
            row.status, row.attempts, row.next_attempt_at = "pending", 0, utcnow()
            row.updated_at = utcnow()
            session.add(row)
    _tool(ctx).passback.wake()
    return {"requeued": len(rows)}


@endpoint("POST", "/api/classrooms/{classroom_id:id}/lti/roster-sync", tag="lti")
async def roster_sync(ctx: Ctx) -> dict[str, Any]:
    """Sync the classroom's members from the LMS course (NRPS; instructors)."""
    context = await _context(ctx, (Role.INSTRUCTOR,))
    tool = _tool(ctx)
    try:
        done = await nrps.sync(tool.store, tool.http, tool.tokens, context)
    except PlatformError as exc:
        raise ServiceUnavailable(
            f"the LMS roster could not be read: {exc}", code="platform_error"
        ) from None
    assert context.id is not None
    # Sockets, hands and boards follow, as for a removal by hand (server/identity/removal.py).
    await ctx.components.identity.removal.departed(context.classroom_id, done.removed)
    for user_id in done.changed:
        await ctx.components.security.sessions.announce(user_id, "role")
    counts = done.counts
    counts["grades_requeued"] = await requeue_unlinked(tool.store, context.id)
    tool.passback.wake()
    return counts


routes = [register_platform, list_platforms, invite, grade_status, retry_grades, roster_sync]
