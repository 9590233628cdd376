"""The lesson commands over HTTP: refusals with a clear code and message, nothing changed."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Lesson


@pytest.mark.parametrize(
    ("path", "body", "status", "code", "message"),
    [
        ("pairs/make", {"strategy": "best"}, 400, "invalid_field", "random, mixed or alike"),
        ("pairs/make", {"strategy": "random"}, 400, "cannot_pair", "at least two online"),
        (
            "pairs/make",
            {"strategy": "random", "rotate_minutes": 500},
            400,
            "invalid_field",
            "0 to 120",
        ),
        ("pairs/rotate", {}, 400, "no_pairs", "no pairs"),
        ("pairs/dance", {}, 400, "unknown_type", "unknown message type 'pairs.dance'"),
        ("lesson/countdown", {"seconds": -1}, 400, "invalid_field", "0 to 10800"),
        ("lesson/countdown", {}, 400, "invalid_field", "'seconds' is required"),
        ("lesson/announce", {"text": 5}, 400, "invalid_field", "must be a string"),
        ("lesson/push", {"files": {}}, 400, "invalid_field", "'files' is empty"),
        (
            "lesson/freeze",
            {"reason": "x", "extra": 1},
            400,
            "invalid_field",
            "unknown field 'extra'",
        ),
        ("lesson/spotlight", {"user_id": 1}, 400, "invalid_field", "both user_id and doc"),
        (
            "lesson/spotlight",
            {"user_id": 1, "doc": "demo"},
            400,
            "invalid_field",
            "not a file of 1",
        ),
    ],
)
async def test_refusals(
    client: httpx.AsyncClient,
    lesson: Lesson,
    *,
    path: str,
    body: dict[str, object],
    status: int,
    code: str,
    message: str,
) -> None:
    response = await client.post(
        f"/api/rooms/{lesson.room_id}/{path}", json=body, headers=lesson.teacher.headers
    )
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and message in error["message"]


async def test_spotlight_freeze_and_countdown_over_http(
    client: httpx.AsyncClient, lesson: Lesson
) -> None:
    doc = f"students/{lesson.bob.id}/main.py"
    wrong = await client.post(
        f"/api/rooms/{lesson.room_id}/lesson/spotlight",
        json={"user_id": lesson.alice.id, "doc": doc},
        headers=lesson.teacher.headers,
    )
    assert wrong.status_code == 400 and "is not a file of" in wrong.json()["error"]["message"]
    right = await client.post(
        f"/api/rooms/{lesson.room_id}/lesson/spotlight",
        json={"user_id": lesson.bob.id, "doc": doc, "show_name": False},
        headers=lesson.teacher.headers,
    )
    assert right.status_code == 200
    assert right.json()["lesson"]["spotlight"] == {
        "user_id": lesson.bob.id,
        "name": "Bob",
        "doc": doc,
        "show_name": False,
    }
    await client.post(
        f"/api/rooms/{lesson.room_id}/lesson/freeze", json={}, headers=lesson.teacher.headers
    )
    count = await client.post(
        f"/api/rooms/{lesson.room_id}/lesson/countdown",
        json={"seconds": 120},
        headers=lesson.teacher.headers,
    )
    view = count.json()["lesson"]
    assert view["freeze"]["reason"] == "" and view["countdown"]["seconds"] == 120
    assert 119 <= view["countdown"]["seconds_left"] <= 120
    # An assistant is staff but not an instructor: refused like a student.
    put = await client.put(
        f"/api/classrooms/{lesson.classroom['id']}/members",
        json={"user_id": lesson.alice.id, "role": "assistant"},
        headers=lesson.teacher.headers,
    )
    assert put.status_code == 200, put.text
    refused = await client.post(
        f"/api/rooms/{lesson.room_id}/lesson/unfreeze", json={}, headers=lesson.alice.headers
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["message"] == "an assistant may not send lesson.unfreeze"
