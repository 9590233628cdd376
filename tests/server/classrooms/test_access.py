"""The role check of every room socket command (``room_access_now``) against the one HTTP
endpoints use (``room_access``), on SQLite and PostgreSQL: the same answer for every caller,
and the membership read at each call, so a change in it holds at the next command."""

from __future__ import annotations

import httpx
import pytest
from sqlmodel import delete, update

from server.classrooms.access import RoomAccess, room_access, room_access_now
from server.exceptions import ApiError
from server.models import Membership, Role
from server.store import Store
from tests.conftest import Lesson, create_instructor, state_of


async def both(store: Store, room_id: int, user_id: int, *, staff: bool = False) -> object:
    """What each check answers: the same RoomAccess fields, or the same error code."""
    answers: list[object] = []
    for check in ("http", "socket"):
        try:
            if check == "http":
                async with store.session() as session:
                    found: RoomAccess = await room_access(session, room_id, user_id, staff=staff)
            else:
                found = await room_access_now(store, room_id, user_id, staff=staff)
            answers.append((found.room_id, found.room.classroom_id, found.role, found.user_id))
        except ApiError as exc:
            answers.append((exc.status_code, exc.code))
    assert answers[0] == answers[1], answers
    return answers[1]


async def test_every_caller_gets_the_same_answer_from_both_checks(
    client: httpx.AsyncClient, lesson: Lesson
) -> None:
    app = client._transport.app  # type: ignore[attr-defined]
    store = state_of(app).store
    room, classroom = lesson.room_id, lesson.classroom["id"]
    outsider = await create_instructor(store, state_of(app), "grace@example.org", "Grace")

    assert await both(store, room, lesson.teacher.id) == (
        room, classroom, Role.INSTRUCTOR, lesson.teacher.id
    )  # fmt: skip
    assert await both(store, room, lesson.teacher.id, staff=True) == (
        room, classroom, Role.INSTRUCTOR, lesson.teacher.id
    )  # fmt: skip
    assert await both(store, room, lesson.alice.id) == (
        room, classroom, Role.STUDENT, lesson.alice.id
    )  # fmt: skip
    assert await both(store, room, lesson.alice.id, staff=True) == (403, "staff_only")
    assert await both(store, room, outsider.id) == (403, "not_a_member")
    assert await both(store, room + 1000, lesson.teacher.id) == (404, "unknown_room")
    # A user who does not exist at all is no member either.
    assert await both(store, room, 10_000_000) == (403, "not_a_member")


async def test_a_membership_change_holds_at_the_next_check(
    client: httpx.AsyncClient, lesson: Lesson
) -> None:
    store = state_of(client._transport.app).store  # type: ignore[attr-defined]
    room, alice = lesson.room_id, lesson.alice.id
    assert (await room_access_now(store, room, alice)).role is Role.STUDENT

    async with store.session() as session:
        await session.exec(
            update(Membership)
            .where(Membership.user_id == alice)  # type: ignore[arg-type]
            .values(role=Role.ASSISTANT.value)
        )
    assert (await room_access_now(store, room, alice, staff=True)).role is Role.ASSISTANT

    async with store.session() as session:
        await session.exec(delete(Membership).where(Membership.user_id == alice))  # type: ignore[arg-type]
    with pytest.raises(ApiError) as refused:
        await room_access_now(store, room, alice)
    assert refused.value.code == "not_a_member"
