"""Role checks shared by every endpoint and socket: who may see or change a room.

One check for HTTP and sockets alike: both know the caller's user id (a verified token, or the
user of an open socket), and the role always comes from the classroom membership, read now.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel.ext.asyncio.session import AsyncSession

from server.auth import classroom_role
from server.exceptions import Forbidden, NotFound
from server.models import Classroom, Role, Room


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
        raise NotFound(f"room {room_id} does not exist", code="unknown_room")
    role = await classroom_role(session, room.classroom_id, user_id)
    if role is None:
        raise Forbidden("you are not a member of this room's classroom", code="not_a_member")
    if staff and not role.is_staff:
        raise Forbidden("only instructors and assistants may do this", code="staff_only")
    return RoomAccess(room=room, role=role, user_id=user_id)


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
