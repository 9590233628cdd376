"""What a checked launch does to our data: the LMS user becomes (or is) one of our users, the
LMS course is bound to one classroom, the user's role there follows the LMS, and the resource
link is bound to one room (and maybe one exercise of it).

The first launch of a course by an instructor creates its classroom; a student who launches a
course no instructor has opened yet is refused (the classroom needs an owner). An LMS role is
authoritative: launching as TeachingAssistant makes the member an assistant even if they were a
student before.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from rooms.lti import DEEP_LINKING, Launch
from server.exceptions import Forbidden
from server.identity.codes import unique_join_code
from server.ids import parse_id
from server.models import (
    Classroom,
    ExerciseRecord,
    LtiContext,
    LtiLineItem,
    LtiPlatform,
    LtiResourceLink,
    LtiUser,
    Membership,
    Role,
    Room,
    User,
    UserKind,
)
from server.store import Store


@dataclass(frozen=True)
class Landing:
    user_id: int
    kind: UserKind
    role: Role
    classroom_id: int
    lti_context_id: int
    room_id: int | None
    role_changed: bool = False  # an existing member's role changed: their sockets must hear


async def lms_user(
    session: AsyncSession, platform_id: int, subject: str, name: str, role: Role
) -> User:
    """Our user for the LMS user ``subject`` of a platform, created on first sight."""
    link = (
        await session.exec(
            select(LtiUser).where(LtiUser.platform_id == platform_id, LtiUser.subject == subject)
        )
    ).first()
    user = await session.get(User, link.user_id) if link is not None else None
    kind = UserKind.INSTRUCTOR if role is Role.INSTRUCTOR else UserKind.STUDENT
    if user is None:
        user = User(name=name, kind=kind.value)
        session.add(user)
        await session.flush()
        assert user.id is not None
        session.add(LtiUser(platform_id=platform_id, subject=subject, user_id=user.id))
    else:
        user.name = name
        if kind is UserKind.INSTRUCTOR:
            user.kind = kind.value
        session.add(user)
    return user


async def set_role(session: AsyncSession, classroom_id: int, user_id: int, role: Role) -> bool:
    """Make ``user_id`` a member with ``role``; whether an existing member's role changed."""
    membership = (
        await session.exec(
            select(Membership).where(
                Membership.classroom_id == classroom_id, Membership.user_id == user_id
            )
        )
    ).first()
    changed = membership is not None and membership.role != role.value
    if membership is None:
        membership = Membership(classroom_id=classroom_id, user_id=user_id)
    membership.role = role.value
    session.add(membership)
    return changed


async def provision(store: Store, platform: LtiPlatform, launch: Launch) -> Landing:
    assert platform.id is not None
    role = Role(launch.role)
    async with store.session() as session:
        user = await lms_user(session, platform.id, launch.subject, launch.name, role)
        assert user.id is not None
        context = (
            await session.exec(
                select(LtiContext).where(
                    LtiContext.platform_id == platform.id,
                    LtiContext.context_id == launch.context_id,
                )
            )
        ).first()
        if context is None:
            if not role.is_staff:
                raise Forbidden(
                    "this course has not been opened by its instructor yet",
                    code="course_not_set_up",
                )
            classroom = Classroom(
                title=launch.context_title,
                join_code=await unique_join_code(session),
                owner_id=user.id,
            )
            session.add(classroom)
            await session.flush()
            assert classroom.id is not None
            context = LtiContext(
                platform_id=platform.id,
                deployment_id=launch.deployment_id,
                context_id=launch.context_id,
                classroom_id=classroom.id,
            )
        context.deployment_id = launch.deployment_id
        context.lineitems_url = launch.lineitems_url or context.lineitems_url
        context.ags_scopes = list(launch.ags_scopes) or context.ags_scopes
        context.memberships_url = launch.memberships_url or context.memberships_url
        session.add(context)
        await session.flush()
        assert context.id is not None
        changed = await set_role(session, context.classroom_id, user.id, role)
        room_id = None
        if launch.message_type != DEEP_LINKING and launch.resource_link_id is not None:
            room_id = await _link_room(session, context, launch)
        return Landing(
            user.id, UserKind(user.kind), role, context.classroom_id, context.id, room_id, changed
        )


async def _link_room(session: AsyncSession, context: LtiContext, launch: Launch) -> int:
    assert context.id is not None and launch.resource_link_id is not None
    link = (
        await session.exec(
            select(LtiResourceLink).where(
                LtiResourceLink.lti_context_id == context.id,
                LtiResourceLink.resource_link_id == launch.resource_link_id,
            )
        )
    ).first()
    if link is None:
        room = await _room_named(session, context.classroom_id, launch.custom.get("room_id"))
        if room is None:
            room = Room(
                classroom_id=context.classroom_id,
                title=(launch.resource_link_title or launch.context_title)[:120],
            )
            session.add(room)
            await session.flush()
        assert room.id is not None
        exercise = launch.custom.get("exercise_id")
        if exercise is not None and await _exercise(session, context.classroom_id, exercise):
            exercise_id: str | None = exercise
        else:
            exercise_id = None
        link = LtiResourceLink(
            lti_context_id=context.id,
            resource_link_id=launch.resource_link_id,
            room_id=room.id,
            exercise_id=exercise_id,
        )
        session.add(link)
    if link.exercise_id is not None and launch.lineitem_url:
        # The platform made a gradebook column for this link (Deep Linking lineItem): use it.
        known = (
            await session.exec(
                select(LtiLineItem).where(
                    LtiLineItem.lti_context_id == context.id,
                    LtiLineItem.exercise_id == link.exercise_id,
                )
            )
        ).first()
        if known is None:
            session.add(
                LtiLineItem(
                    lti_context_id=context.id, exercise_id=link.exercise_id, url=launch.lineitem_url
                )
            )
    return link.room_id


async def _room_named(session: AsyncSession, classroom_id: int, raw: str | None) -> Room | None:
    room_id = parse_id(raw)
    if room_id is None:
        return None
    room = await session.get(Room, room_id)
    return room if room is not None and room.classroom_id == classroom_id else None


async def _exercise(session: AsyncSession, classroom_id: int, exercise_id: str) -> bool:
    found = await session.exec(
        select(ExerciseRecord.id).where(
            ExerciseRecord.classroom_id == classroom_id,
            ExerciseRecord.exercise_id == exercise_id,
        )
    )
    return found.first() is not None
