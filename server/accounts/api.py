"""Signing in: instructors with email and password, students with a join code and a name."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.responses import Response
from starlette.routing import BaseRoute

from rooms import names
from server.api.base import Ctx, endpoint
from server.api.schemas import ClassroomRef, JoinBody, JoinOut, LoginBody, TokenOut, UserOut
from server.auth import COOKIE_NAME
from server.exceptions import Conflict, NotFound, Unauthorized
from server.identity import codes, roster
from server.models import Classroom, ClosedJoinCode, Membership, Role, User, UserKind


def client_address(ctx: Ctx) -> str:
    client = ctx.request.client
    return client.host if client is not None else "unknown"


@endpoint("POST", "/api/auth/login", body=LoginBody, response=TokenOut, auth=False, tag="auth")
async def login(ctx: Ctx) -> TokenOut:
    """Sign an instructor in with email and password."""
    body = ctx.body(LoginBody)
    security = ctx.components.security
    email = body.email.lower()
    await security.limiter.check("login-address", client_address(ctx), "sign-in attempts")
    await security.limiter.check("login-account", email, "sign-in attempts for this account")
    async with ctx.session() as session:
        user = (await session.exec(select(User).where(User.email == email))).first()
    stored_hash = user.password_hash if user is not None else None
    if not await security.passwords.check(stored_hash, body.password) or user is None:
        raise Unauthorized("wrong email or password", code="bad_credentials")
    assert user.id is not None
    token = await security.sessions.sign(user.id, UserKind(user.kind))
    return TokenOut(token=token, user=UserOut(id=user.id, name=user.name, role=user.kind))


@endpoint("POST", "/api/join", body=JoinBody, response=JoinOut, auth=False, tag="auth")
async def join(ctx: Ctx) -> JoinOut:
    """Join a classroom as a student with its join code and a display name."""
    body = ctx.body(JoinBody)
    code = body.join_code.upper()
    security = ctx.components.security
    await security.limiter.check("join-address", client_address(ctx), "joins from your address")
    await security.limiter.check("join-code", code, "joins with this code")
    async with ctx.session() as session:
        classroom = (
            await session.exec(select(Classroom).where(Classroom.join_code == code))
        ).first()
        if classroom is None:
            raise NotFound("no classroom has this join code", code="unknown_join_code")
        assert classroom.id is not None
        await roster.check_open(session, classroom.id)
        if await session.get(ClosedJoinCode, classroom.id) is not None:
            raise NotFound("this join code is closed", code="join_code_closed")
        await _not_staff_name(session, classroom.id, body.name)
        user = User(name=body.name, kind=UserKind.STUDENT.value)
        session.add(user)
        await session.flush()
        assert user.id is not None
        session.add(Membership(classroom_id=classroom.id, user_id=user.id, role=Role.STUDENT))
        rejoin_code = await codes.issue(session, user.id)
    token = await security.sessions.sign(user.id, UserKind.STUDENT)
    return JoinOut(
        token=token,
        user=UserOut(id=user.id, name=user.name, role=Role.STUDENT.value),
        classroom=ClassroomRef(id=classroom.id, title=classroom.title),
        rejoin_code=rejoin_code,
    )


async def _not_staff_name(session: AsyncSession, classroom_id: int, name: str) -> None:
    """A student may not join under the name of one of the classroom's staff (compared as
    rooms/names.py ``folded`` does): on a cursor or in a list of names, they would pass for
    them."""
    staff = await session.exec(
        select(User.name)
        .join(Membership, col(Membership.user_id) == col(User.id))
        .where(
            Membership.classroom_id == classroom_id,
            col(Membership.role).in_([Role.INSTRUCTOR.value, Role.ASSISTANT.value]),
        )
    )
    wanted = names.folded(name)
    if any(names.folded(taken) == wanted for taken in staff.all()):
        raise Conflict(
            f"{name!r} is the name of this classroom's staff: join under your own name",
            code="staff_name",
        )


@endpoint("GET", "/api/me", response=UserOut, tag="auth")
async def me(ctx: Ctx) -> UserOut:
    """The signed-in user."""
    async with ctx.session() as session:
        user = await session.get(User, ctx.caller.user_id)
    if user is None or user.id is None:
        raise Unauthorized("the token's user no longer exists", code="token_invalid")
    return UserOut(id=user.id, name=user.name, role=user.kind)


@endpoint("POST", "/api/auth/logout", status=204, tag="auth")
async def logout(ctx: Ctx) -> Response:
    """Sign out everywhere: every token of the caller signed so far stops working."""
    await ctx.components.security.sessions.revoke(ctx.caller.user_id)
    response = Response(status_code=204)
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="lax")
    return response


@endpoint("POST", "/api/socket-tickets", status=201, tag="auth")
async def socket_ticket(ctx: Ctx) -> dict[str, Any]:
    """A single-use ticket to open one socket (``?ticket=``), valid for a few seconds."""
    sessions = ctx.components.security.sessions
    return {"ticket": await sessions.ticket(ctx.caller), "expires_in": sessions.ticket_seconds}


routes: list[BaseRoute] = [login, join, me, logout, socket_ticket]
