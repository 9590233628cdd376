"""Role checks shared by every endpoint and socket: who may see or change a room.

One check for HTTP and sockets alike: both know the caller's user id (a verified token, or the
user of an open socket), and the role always comes from the classroom membership, read now.

A socket command checks again on every command (a student removed from the class is refused at
once), so that check is :func:`room_access_now`: the room and the role in one statement built
once, one hop to the store's session thread, rather than two statements through the async
driver, each a trip through the loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from sqlalchemy import Integer, and_, bindparam
from sqlmodel import Session, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.auth import classroom_role
from server.exceptions import Forbidden, NotFound
from server.models import Classroom, Membership, Role, Room
from server.store import Store


@dataclass(frozen=True)
class RoomAccess:
    room: Room
    role: Role
    user_id: int

    @property
    def room_id(self) -> int:
        assert self.room.id is not None
        return self.room.id

    @property
    def is_staff(self) -> bool:
        return self.role.is_staff


async def room_access(
    session: AsyncSession, room_id: int, user_id: int, *, staff: bool = False
) -> RoomAccess:
    """The caller's access to ``room_id``: 404 for no such room, 403 for a non-member (or a
    student where ``staff`` is required)."""
    room = await session.get(Room, room_id)
    if room is None:
        return _checked(room_id, None, None, user_id, staff=staff)
    role = await classroom_role(session, room.classroom_id, user_id)
    return _checked(room_id, room, role, user_id, staff=staff)


async def room_access_now(
    store: Store, room_id: int, user_id: int, *, staff: bool = False
) -> RoomAccess:
    """:func:`room_access` in one hop to the store's session thread (see the module's note)."""
    found = await store.threaded.read(partial(_room_and_role, room_id=room_id, user_id=user_id))
    room, role = found if found is not None else (None, None)
    return _checked(room_id, room, None if role is None else Role(role), user_id, staff=staff)


def _checked(
    room_id: int, room: Room | None, role: Role | None, user_id: int, *, staff: bool
) -> RoomAccess:
    if room is None:
        raise NotFound(f"room {room_id} does not exist", code="unknown_room")
    if role is None:
        raise Forbidden("you are not a member of this room's classroom", code="not_a_member")
    if staff and not role.is_staff:
        raise Forbidden("only instructors and assistants may do this", code="staff_only")
    return RoomAccess(room=room, role=role, user_id=user_id)


# The room, and the caller's role in its classroom (None for a non-member).
_ROOM_AND_ROLE = (
    select(Room, Membership.role)
    .outerjoin(
        Membership,
        and_(
            col(Membership.classroom_id) == col(Room.classroom_id),
            col(Membership.user_id) == bindparam("user_id", type_=Integer),
        ),
    )
    .where(col(Room.id) == bindparam("room_id", type_=Integer))
)


def _room_and_role(
    session: Session, *, room_id: int, user_id: int
) -> tuple[Room, str | None] | None:
    found = session.exec(_ROOM_AND_ROLE, params={"room_id": room_id, "user_id": user_id}).first()
    return None if found is None else (found[0], found[1])


async def classroom_access(
    session: AsyncSession, classroom_id: int, user_id: int, *, roles: tuple[Role, ...] = ()
) -> tuple[Classroom, Role]:
    classroom = await session.get(Classroom, classroom_id)
    if classroom is None:
        raise NotFound(f"classroom {classroom_id} does not exist", code="unknown_classroom")
    role = await classroom_role(session, classroom_id, user_id)
    if role is None:
        raise Forbidden("you are not a member of this classroom", code="not_a_member")
    if roles and role not in roles:
        allowed = " or ".join(r.value for r in roles)
        raise Forbidden(f"only a classroom {allowed} may do this", code="wrong_role")
    return classroom, role
