"""Signing in: instructors with email and password, students with a join code and a name."""

from __future__ import annotations

from sqlmodel import select

from server.api.base import Ctx, endpoint
from server.api.schemas import ClassroomRef, JoinBody, JoinOut, LoginBody, TokenOut, UserOut
from server.auth import check_password
from server.exceptions import NotFound, Unauthorized
from server.identity import codes, roster
from server.models import Classroom, Membership, Role, User, UserKind


@endpoint("POST", "/api/auth/login", body=LoginBody, response=TokenOut, auth=False, tag="auth")
async def login(ctx: Ctx) -> TokenOut:
    """Sign an instructor in with email and password."""
    body = ctx.body(LoginBody)
    async with ctx.session() as session:
        user = (await session.exec(select(User).where(User.email == body.email.lower()))).first()
    stored_hash = user.password_hash if user is not None else None
    if not check_password(stored_hash, body.password) or user is None:
        raise Unauthorized("wrong email or password", code="bad_credentials")
    assert user.id is not None
    token = ctx.state.signer.sign(user.id, UserKind(user.kind))
    return TokenOut(token=token, user=UserOut(id=user.id, name=user.name, role=user.kind))


@endpoint("POST", "/api/join", body=JoinBody, response=JoinOut, auth=False, tag="auth")
async def join(ctx: Ctx) -> JoinOut:
    """Join a classroom as a student with its join code and a display name."""
    body = ctx.body(JoinBody)
    code = body.join_code.upper()
    async with ctx.session() as session:
        classroom = (
            await session.exec(select(Classroom).where(Classroom.join_code == code))
        ).first()
        if classroom is None:
            raise NotFound("no classroom has this join code", code="unknown_join_code")
        assert classroom.id is not None
        await roster.check_open(session, classroom.id)
        user = User(name=body.name, kind=UserKind.STUDENT.value)
        session.add(user)
        await session.flush()
        assert user.id is not None
        session.add(Membership(classroom_id=classroom.id, user_id=user.id, role=Role.STUDENT))
        rejoin_code = await codes.issue(session, user.id)
    token = ctx.state.signer.sign(user.id, UserKind.STUDENT)
    return JoinOut(
        token=token,
        user=UserOut(id=user.id, name=user.name, role=Role.STUDENT.value),
        classroom=ClassroomRef(id=classroom.id, title=classroom.title),
        rejoin_code=rejoin_code,
    )


@endpoint("GET", "/api/me", response=UserOut, tag="auth")
async def me(ctx: Ctx) -> UserOut:
    """The signed-in user."""
    async with ctx.session() as session:
        user = await session.get(User, ctx.caller.user_id)
    if user is None or user.id is None:
        raise Unauthorized("the token's user no longer exists", code="token_invalid")
    return UserOut(id=user.id, name=user.name, role=user.kind)


routes = [login, join, me]
