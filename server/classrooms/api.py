"""Classrooms, their members, and the rooms in them."""

from __future__ import annotations

import secrets

from sqlalchemy import func
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.api.base import Ctx, endpoint
from server.api.schemas import (
    ClassroomBody,
    ClassroomList,
    ClassroomOut,
    DocumentOut,
    MemberBody,
    MemberOut,
    RoomBody,
    RoomDetail,
    RoomList,
    RoomOut,
)
from server.classrooms.access import classroom_access, room_access
from server.exceptions import BadRequest, NotFound
from server.models import Classroom, DocSnapshot, DocUpdate, Membership, Role, Room, User
from server.security.visibility import pair_groups, visible

# No 0/O, 1/I/L: the code is read off a projector and typed by hand.
JOIN_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
JOIN_CODE_LENGTH = 6


def new_join_code() -> str:
    return "".join(secrets.choice(JOIN_ALPHABET) for _ in range(JOIN_CODE_LENGTH))


def _room_out(room: Room) -> RoomOut:
    assert room.id is not None
    return RoomOut(id=room.id, title=room.title, kind=room.kind, classroom_id=room.classroom_id)


@endpoint("POST", "/api/classrooms", body=ClassroomBody, response=ClassroomOut, status=201)
async def create_classroom(ctx: Ctx) -> ClassroomOut:
    """Create a classroom (instructors only); the creator becomes its instructor."""
    ctx.require_instructor()
    body = ctx.body(ClassroomBody)
    async with ctx.session() as session:
        for _ in range(10):
            code = new_join_code()
            taken = await session.exec(select(Classroom.id).where(Classroom.join_code == code))
            if taken.first() is None:
                break
        classroom = Classroom(title=body.title, join_code=code, owner_id=ctx.caller.user_id)
        session.add(classroom)
        await session.flush()
        assert classroom.id is not None
        session.add(
            Membership(classroom_id=classroom.id, user_id=ctx.caller.user_id, role=Role.INSTRUCTOR)
        )
    return ClassroomOut(
        id=classroom.id, title=classroom.title, join_code=code, role=Role.INSTRUCTOR.value
    )


@endpoint("GET", "/api/classrooms", response=ClassroomList)
async def list_classrooms(ctx: Ctx) -> ClassroomList:
    """The classrooms the caller belongs to, with join codes for staff."""
    async with ctx.session() as session:
        rows = await session.exec(
            select(Classroom, Membership.role)
            .join(Membership, Membership.classroom_id == Classroom.id)  # type: ignore[arg-type]
            .where(Membership.user_id == ctx.caller.user_id)
            .order_by(Classroom.id)  # type: ignore[arg-type]
        )
        out = []
        for classroom, role in rows.all():
            assert classroom.id is not None
            staff = Role(role).is_staff
            out.append(
                ClassroomOut(
                    id=classroom.id,
                    title=classroom.title,
                    join_code=classroom.join_code if staff else None,
                    role=role,
                )
            )
    return ClassroomList(classrooms=out)


@endpoint(
    "POST", "/api/classrooms/{classroom_id:id}/rooms", body=RoomBody, response=RoomOut, status=201
)
async def create_room(ctx: Ctx) -> RoomOut:
    """Create a lesson or pair room in a classroom (its instructors only)."""
    body = ctx.body(RoomBody)
    classroom_id = ctx.path_int("classroom_id")
    async with ctx.session() as session:
        await classroom_access(session, classroom_id, ctx.caller.user_id, roles=(Role.INSTRUCTOR,))
        room = Room(classroom_id=classroom_id, title=body.title, kind=body.kind)
        session.add(room)
        await session.flush()
    return _room_out(room)


@endpoint("GET", "/api/classrooms/{classroom_id:id}/rooms", response=RoomList)
async def list_rooms(ctx: Ctx) -> RoomList:
    """The rooms of a classroom (any member)."""
    classroom_id = ctx.path_int("classroom_id")
    async with ctx.session() as session:
        await classroom_access(session, classroom_id, ctx.caller.user_id)
        rooms = await session.exec(
            select(Room).where(Room.classroom_id == classroom_id).order_by(Room.id)  # type: ignore[arg-type]
        )
        return RoomList(rooms=[_room_out(r) for r in rooms.all()])


@endpoint("GET", "/api/classrooms/{classroom_id:id}/members", response=None)
async def list_members(ctx: Ctx) -> dict[str, list[dict[str, object]]]:
    """The members of a classroom with their roles (staff only)."""
    classroom_id = ctx.path_int("classroom_id")
    async with ctx.session() as session:
        await classroom_access(
            session, classroom_id, ctx.caller.user_id, roles=(Role.INSTRUCTOR, Role.ASSISTANT)
        )
        members = await _members(session, classroom_id)
    return {"members": [m.model_dump() for m in members]}


@endpoint("PUT", "/api/classrooms/{classroom_id:id}/members", body=MemberBody, response=MemberOut)
async def set_member_role(ctx: Ctx) -> MemberOut:
    """Make a classroom member an instructor, assistant or student (instructors only)."""
    body = ctx.body(MemberBody)
    classroom_id = ctx.path_int("classroom_id")
    async with ctx.session() as session:
        await classroom_access(session, classroom_id, ctx.caller.user_id, roles=(Role.INSTRUCTOR,))
        membership = (
            await session.exec(
                select(Membership).where(
                    Membership.classroom_id == classroom_id, Membership.user_id == body.user_id
                )
            )
        ).first()
        user = await session.get(User, body.user_id)
        if membership is None or user is None:
            raise NotFound(f"user {body.user_id} is not a member of this classroom")
        if body.user_id == ctx.caller.user_id and body.role != Role.INSTRUCTOR.value:
            raise BadRequest("you cannot remove your own instructor role", code="own_role")
        changed = membership.role != body.role
        membership.role = body.role
        session.add(membership)
    if changed:  # open sockets of this user, on every process, reconnect with the new role
        await ctx.components.security.sessions.announce(body.user_id, "role")
    return MemberOut(id=body.user_id, name=user.name, role=body.role)


async def _members(session: AsyncSession, classroom_id: int) -> list[MemberOut]:
    rows = await session.exec(
        select(User.id, User.name, Membership.role)
        .join(Membership, Membership.user_id == User.id)  # type: ignore[arg-type]
        .where(Membership.classroom_id == classroom_id)
        .order_by(User.id)  # type: ignore[arg-type]
    )
    return [
        MemberOut(id=uid, name=name, role=role) for uid, name, role in rows.all() if uid is not None
    ]


@endpoint("GET", "/api/rooms/{room_id:id}", response=RoomDetail)
async def get_room(ctx: Ctx) -> RoomDetail:
    """A room, its members and its stored documents (students see their own documents only)."""
    room_id = ctx.path_int("room_id")
    async with ctx.session() as session:
        access = await room_access(session, room_id, ctx.caller.user_id)
        members = await _members(session, access.room.classroom_id)
        latest = await session.exec(
            select(DocUpdate.doc, func.max(DocUpdate.created_at))
            .where(DocUpdate.room_id == room_id)
            .group_by(DocUpdate.doc)
        )
        changed = dict(latest.all())
        snapshots = await session.exec(
            select(DocSnapshot.doc, DocSnapshot.updated_at).where(DocSnapshot.room_id == room_id)
        )
        for doc, at in snapshots.all():
            if doc not in changed or changed[doc] < at:
                changed[doc] = at
        groups = await pair_groups(session, room_id, ctx.caller.user_id)
    shown = visible(changed, role=access.role, user_id=ctx.caller.user_id, groups=groups)
    documents = [
        DocumentOut(name=doc, updated_at=changed[doc].isoformat() if changed[doc] else None)
        for doc in shown
    ]
    base = _room_out(access.room)
    return RoomDetail(
        **base.model_dump(), role=access.role.value, members=members, documents=documents
    )


routes = [
    create_classroom,
    list_classrooms,
    create_room,
    list_rooms,
    list_members,
    set_member_role,
    get_room,
]
