"""RoomRoles: one query per (room, user) within the TTL, refusals never cached."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette

from server.auth import Caller
from server.documents.access import RoomRoles
from server.exceptions import Forbidden, NotFound
from server.models import UserKind
from tests.conftest import Lesson, state_of

DATABASES = ("sqlite",)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_roles_are_cached_for_the_ttl_then_read_again(
    app: Starlette, client: httpx.AsyncClient, lesson: Lesson
) -> None:
    clock = Clock()
    roles = RoomRoles(state_of(app).store, ttl=5.0, clock=clock)
    alice = Caller(lesson.alice.id, UserKind.STUDENT)
    assert await roles.lookup(lesson.room_id, alice) == ("student", frozenset())

    put = await client.put(
        f"/api/rooms/{lesson.room_id}/pairs/g1",
        json={"user_ids": [lesson.alice.id]},
        headers=lesson.teacher.headers,
    )
    assert put.status_code == 200
    clock.now += 4.9
    assert await roles.lookup(lesson.room_id, alice) == ("student", frozenset())
    clock.now += 0.2
    assert await roles.lookup(lesson.room_id, alice) == ("student", frozenset({"g1"}))


async def test_refusals_are_not_cached(app: Starlette, lesson: Lesson) -> None:
    roles = RoomRoles(state_of(app).store, clock=Clock())
    stranger = Caller(999_999, UserKind.STUDENT)
    with pytest.raises(NotFound):
        await roles.lookup(999_999, stranger)
    with pytest.raises(Forbidden):
        await roles.lookup(lesson.room_id, stranger)
    with pytest.raises(Forbidden):
        await roles.lookup(lesson.room_id, stranger)
