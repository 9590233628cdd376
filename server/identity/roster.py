"""Class rosters: import a CSV (name, email, optional student id), one account per student,
each with a personal code to hand out; and the "roster required to join" policy."""

from __future__ import annotations

from typing import Any

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from rooms.identity import RosterRow, parse_roster
from server.exceptions import BadRequest, Forbidden
from server.identity import codes
from server.models import JoinPolicy, Membership, Role, RosterEntry, User, UserKind


async def roster_required(session: AsyncSession, classroom_id: int) -> bool:
    policy = await session.get(JoinPolicy, classroom_id)
    return policy is not None and policy.roster_required


async def check_open(session: AsyncSession, classroom_id: int) -> None:
    """Refuse a join with the class code when the classroom admits its roster only."""
    if await roster_required(session, classroom_id):
        raise Forbidden(
            "this classroom admits the students on its roster only: sign in with the personal "
            "code your instructor gave you",
            code="roster_required",
        )


async def set_policy(session: AsyncSession, classroom_id: int, required: bool) -> None:
    policy = await session.get(JoinPolicy, classroom_id) or JoinPolicy(classroom_id=classroom_id)
    policy.roster_required = required
    session.add(policy)


async def import_roster(
    session: AsyncSession, classroom_id: int, text: str
) -> list[dict[str, Any]]:
    """Add or update every row; new students get an account and a personal code (shown in the
    answer only). Nothing is imported when a line is bad (the caller's transaction rolls back)."""
    try:
        rows = parse_roster(text)
    except ValueError as exc:
        raise BadRequest(str(exc), code="bad_roster") from None
    out = []
    for row in rows:
        out.append(await _one(session, classroom_id, row))
    return out


async def _one(session: AsyncSession, classroom_id: int, row: RosterRow) -> dict[str, Any]:
    entry = None
    for column, value in (("email", row.email), ("student_id", row.student_id)):
        if value is not None and entry is None:
            entry = (
                await session.exec(
                    select(RosterEntry).where(
                        RosterEntry.classroom_id == classroom_id,
                        getattr(RosterEntry, column) == value,
                    )
                )
            ).first()
    code = None
    if entry is None:
        user = await _account(session, row)
        assert user.id is not None
        entry = RosterEntry(classroom_id=classroom_id, user_id=user.id, name=row.name)
        code = await codes.issue(session, user.id)
        status = "created"
    else:
        found = await session.get(User, entry.user_id)
        assert found is not None
        user, status = found, "updated"
    entry.name, user.name = row.name, row.name
    entry.email = row.email or entry.email
    entry.student_id = row.student_id or entry.student_id
    session.add(entry)
    session.add(user)
    assert user.id is not None
    member = (
        await session.exec(
            select(Membership).where(
                Membership.classroom_id == classroom_id, Membership.user_id == user.id
            )
        )
    ).first()
    if member is None:
        session.add(Membership(classroom_id=classroom_id, user_id=user.id, role=Role.STUDENT))
    await session.flush()
    return {
        "user_id": user.id,
        "name": row.name,
        "email": entry.email,
        "student_id": entry.student_id,
        "status": status,
        "code": code,
    }


async def _account(session: AsyncSession, row: RosterRow) -> User:
    """A new account for a roster student. Never an existing account found by email: a
    student's own email is unverified, and matching it would hand a classmate's roster place
    to whoever typed their address first. The roster keeps the email; the student may set
    one (and a password) on the account later."""
    user = User(name=row.name, kind=UserKind.STUDENT.value)
    session.add(user)
    await session.flush()
    return user
