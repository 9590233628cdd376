"""Sign-in, tokens and joining over the real app, on SQLite and PostgreSQL."""

from __future__ import annotations

import httpx
from itsdangerous import URLSafeTimedSerializer

from server.auth import TOKEN_SALT
from server.models import Membership, User
from tests.conftest import Account, Lesson, join_as, state_of
from tests.support.api import count, error_code


async def test_login_and_whole_flow(client: httpx.AsyncClient, instructor: Account) -> None:
    response = await client.post(
        "/api/auth/login", json={"email": "teacher@example.org", "password": "correct horse"}
    )
    assert response.status_code == 200, response.text
    login = response.json()
    assert login["user"] == {"id": instructor.id, "name": "Ada", "role": "instructor"}
    headers = {"Authorization": f"Bearer {login['token']}"}

    created = await client.post("/api/classrooms", json={"title": "  CS 101 "}, headers=headers)
    assert created.status_code == 201
    classroom = created.json()
    assert classroom["title"] == "CS 101"
    assert len(classroom["join_code"]) == 6

    room = await client.post(
        f"/api/classrooms/{classroom['id']}/rooms",
        json={"title": "Loops", "kind": "pair"},
        headers=headers,
    )
    assert room.status_code == 201
    assert room.json() == {
        "id": room.json()["id"],
        "title": "Loops",
        "kind": "pair",
        "classroom_id": classroom["id"],
    }

    joined = await client.post(
        "/api/join", json={"join_code": classroom["join_code"].lower(), "name": "Zoë"}
    )
    assert joined.status_code == 200
    body = joined.json()
    assert body["user"]["name"] == "Zoë" and body["user"]["role"] == "student"
    assert body["classroom"] == {"id": classroom["id"], "title": "CS 101"}

    student = {"Authorization": f"Bearer {body['token']}"}
    detail = await client.get(f"/api/rooms/{room.json()['id']}", headers=student)
    assert detail.status_code == 200
    members = {(m["name"], m["role"]) for m in detail.json()["members"]}
    assert members == {("Ada", "instructor"), ("Zoë", "student")}
    assert detail.json()["role"] == "student"
    assert detail.json()["documents"] == []

    listed = await client.get("/api/classrooms", headers=student)
    assert listed.json()["classrooms"] == [
        {"id": classroom["id"], "title": "CS 101", "join_code": None, "role": "student"}
    ]
    staff_list = await client.get("/api/classrooms", headers=headers)
    assert staff_list.json()["classrooms"][0]["join_code"] == classroom["join_code"]

    me = await client.get("/api/me", headers=student)
    assert me.json() == body["user"]


async def test_bad_password_and_unknown_email(
    client: httpx.AsyncClient, instructor: Account
) -> None:
    for email, password in [("teacher@example.org", "wrong"), ("nobody@example.org", "x")]:
        response = await client.post("/api/auth/login", json={"email": email, "password": password})
        assert response.status_code == 401
        assert error_code(response) == "bad_credentials"


async def test_tokens_missing_forged_expired(client: httpx.AsyncClient, lesson: Lesson) -> None:
    path = f"/api/rooms/{lesson.room_id}"
    assert error_code(await client.get(path)) == "token_missing"

    forged = URLSafeTimedSerializer("another-secret", salt=TOKEN_SALT).dumps(
        {"uid": 1, "kind": "instructor"}
    )
    response = await client.get(path, headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401 and error_code(response) == "token_invalid"

    app = client._transport.app  # type: ignore[attr-defined]
    signer = state_of(app).signer
    signer.ttl_seconds = -1  # every token is now past its age
    try:
        response = await client.get(path, headers=lesson.alice.headers)
    finally:
        signer.ttl_seconds = 3600
    assert response.status_code == 401 and error_code(response) == "token_expired"

    cookie = await client.get(path, headers={"Cookie": f"classroom_token={lesson.alice.token}"})
    assert cookie.status_code == 200


async def test_join_refusals_write_nothing(client: httpx.AsyncClient, lesson: Lesson) -> None:
    users = await count(client, User)
    memberships = await count(client, Membership)
    cases = [
        ({"join_code": "ZZZZZZ", "name": "Eve"}, 404, "unknown_join_code"),
        ({"join_code": lesson.classroom["join_code"], "name": "x" * 81}, 400, "invalid_body"),
        ({"join_code": lesson.classroom["join_code"], "name": "   "}, 400, "invalid_body"),
        ({"join_code": lesson.classroom["join_code"]}, 400, "invalid_body"),
        (
            {"join_code": lesson.classroom["join_code"], "name": "Eve", "role": "instructor"},
            400,
            "invalid_body",
        ),
    ]
    for body, status, code in cases:
        response = await client.post("/api/join", json=body)
        assert response.status_code == status, (body, response.text)
        assert error_code(response) == code
    for raw in [b"not json", b"[1, 2", b"\xff\xfe", b'"a string"']:
        response = await client.post(
            "/api/join", content=raw, headers={"content-type": "application/json"}
        )
        assert response.status_code == 400
        assert error_code(response) in {"invalid_json", "invalid_body"}
    big = b'{"join_code": "' + b"A" * (2 << 20) + b'"}'
    response = await client.post("/api/join", content=big)
    assert response.status_code == 400 and error_code(response) == "body_too_large"
    assert await count(client, User) == users
    assert await count(client, Membership) == memberships


async def test_a_name_shows_as_typed_and_is_not_the_teachers(
    client: httpx.AsyncClient, lesson: Lesson
) -> None:
    """rooms/names.py: before, a student could join as "Alice" and "Ada (teacher)" on two lines,
    as "\u202erehcaet" (shown "teacher"), or as the teacher's very name, and be taken for
    them on every cursor and list of names."""
    users = await count(client, User)
    code = lesson.classroom["join_code"]
    for name, message in [
        ("Alice\nAda (teacher)", "control character (U+000A)"),
        ("\u202erehcaet", "reverses the text's direction (U+202E)"),
        ("A\u200bda", "invisible character (U+200B)"),
    ]:
        response = await client.post("/api/join", json={"join_code": code, "name": name})
        assert response.status_code == 400 and error_code(response) == "invalid_body"
        assert message in response.json()["error"]["message"]
    for name in ("Ada", " ada", "\uff21\uff24\uff21"):  # the instructor's name, as typed or folded
        response = await client.post("/api/join", json={"join_code": code, "name": name})
        assert response.status_code == 409 and error_code(response) == "staff_name", name
    assert await count(client, User) == users
    # Another Ada joins under a name of her own; staff may still name a student anything.
    ada = await join_as(client, code, "Ada L.")
    renamed = await client.post(
        f"/api/classrooms/{lesson.classroom['id']}/students/{ada.id}/rename",
        json={"name": "Ada\u202e"},
        headers=lesson.teacher.headers,
    )
    assert renamed.status_code == 400 and error_code(renamed) == "invalid_body"


async def test_same_names_get_distinct_users(client: httpx.AsyncClient, lesson: Lesson) -> None:
    again = await join_as(client, lesson.classroom["join_code"], "Alice")
    assert again.id != lesson.alice.id
