"""Classrooms, rooms and members over the real app, on SQLite and PostgreSQL."""

from __future__ import annotations

import httpx

from server.models import Classroom, Room
from tests.conftest import Lesson, new_classroom, new_room, state_of
from tests.support.api import count, error_code


async def test_student_cannot_create_classroom_or_room(
    client: httpx.AsyncClient, lesson: Lesson
) -> None:
    before = await count(client, Classroom), await count(client, Room)
    response = await client.post(
        "/api/classrooms", json={"title": "Mine"}, headers=lesson.alice.headers
    )
    assert response.status_code == 403 and error_code(response) == "instructor_only"
    response = await client.post(
        f"/api/classrooms/{lesson.classroom['id']}/rooms",
        json={"title": "Mine", "kind": "lesson"},
        headers=lesson.alice.headers,
    )
    assert response.status_code == 403 and error_code(response) == "wrong_role"
    assert (await count(client, Classroom), await count(client, Room)) == before


async def test_other_classrooms_are_closed(client: httpx.AsyncClient, lesson: Lesson) -> None:
    app = client._transport.app  # type: ignore[attr-defined]
    from tests.conftest import create_instructor

    other = await create_instructor(
        state_of(app).store, state_of(app), "other@example.org", "Grace"
    )
    theirs = await new_classroom(client, other, "Other class")
    response = await client.post(
        f"/api/classrooms/{theirs['id']}/rooms",
        json={"title": "x", "kind": "lesson"},
        headers=lesson.teacher.headers,
    )
    assert response.status_code == 403 and error_code(response) == "not_a_member"
    their_room = await new_room(client, other, theirs["id"])
    response = await client.get(f"/api/rooms/{their_room['id']}", headers=lesson.alice.headers)
    assert response.status_code == 403
    response = await client.get("/api/rooms/999999", headers=lesson.alice.headers)
    assert response.status_code == 404 and error_code(response) == "unknown_room"


async def test_role_changes(client: httpx.AsyncClient, lesson: Lesson) -> None:
    path = f"/api/classrooms/{lesson.classroom['id']}/members"
    response = await client.put(
        path, json={"user_id": lesson.bob.id, "role": "assistant"}, headers=lesson.alice.headers
    )
    assert response.status_code == 403
    response = await client.put(
        path, json={"user_id": lesson.bob.id, "role": "assistant"}, headers=lesson.teacher.headers
    )
    assert response.status_code == 200 and response.json()["role"] == "assistant"
    detail = await client.get(f"/api/rooms/{lesson.room_id}", headers=lesson.bob.headers)
    assert detail.json()["role"] == "assistant"
    members = await client.get(path, headers=lesson.bob.headers)
    assert members.status_code == 200 and len(members.json()["members"]) == 3
    response = await client.put(
        path, json={"user_id": lesson.teacher.id, "role": "student"}, headers=lesson.teacher.headers
    )
    assert response.status_code == 400 and error_code(response) == "own_role"


async def test_unknown_route_and_method(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/nothing-here")
    assert response.status_code == 404 and error_code(response) == "not_found"
    response = await client.delete("/api/join")
    assert response.status_code == 405 and error_code(response) == "method_not_allowed"
