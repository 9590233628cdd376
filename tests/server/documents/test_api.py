"""GET /api/rooms/{id}/docs and PUT /api/rooms/{id}/pairs/{group}."""

from __future__ import annotations

import httpx
import pycrdt
from starlette.applications import Starlette

from server.documents.registry import DocumentRegistry
from tests.conftest import Lesson, state_of


def an_update(text: str) -> bytes:
    doc: pycrdt.Doc = pycrdt.Doc()
    doc.get("text", type=pycrdt.Text).insert(0, text)
    return doc.get_update()


async def store_docs(app: Starlette, room_id: int, names: list[str]) -> None:
    registry: DocumentRegistry = state_of(app).docs
    for name in names:
        await registry.docstore.append(room_id, name, [an_update(name)])


async def test_staff_see_every_document_students_their_own(
    app: Starlette, client: httpx.AsyncClient, lesson: Lesson
) -> None:
    room = lesson.room_id
    pair = await client.put(
        f"/api/rooms/{room}/pairs/team1",
        json={"user_ids": [lesson.bob.id]},
        headers=lesson.teacher.headers,
    )
    assert pair.status_code == 200, pair.text
    assert pair.json() == {"group": "team1", "members": [{"id": lesson.bob.id, "name": "Bob"}]}
    names = [
        "demo",
        f"students/{lesson.alice.id}/main.py",
        f"students/{lesson.bob.id}/main.py",
        "pairs/team1/main.py",
    ]
    await store_docs(app, room, names)

    staff = await client.get(f"/api/rooms/{room}/docs", headers=lesson.teacher.headers)
    assert staff.status_code == 200, staff.text
    documents = {d["name"]: d for d in staff.json()["documents"]}
    assert set(documents) == set(names)
    alice_doc = documents[f"students/{lesson.alice.id}/main.py"]
    assert alice_doc["owners"] == [{"id": lesson.alice.id, "name": "Alice"}]
    assert alice_doc["access"] == "write" and alice_doc["kind"] == "students"
    assert alice_doc["updated_at"]
    assert documents["pairs/team1/main.py"]["owners"] == [{"id": lesson.bob.id, "name": "Bob"}]
    assert documents["demo"]["access"] == "write"

    alice = await client.get(f"/api/rooms/{room}/docs", headers=lesson.alice.headers)
    seen = {d["name"]: d["access"] for d in alice.json()["documents"]}
    assert seen == {"demo": "read", f"students/{lesson.alice.id}/main.py": "write"}

    bob = await client.get(f"/api/rooms/{room}/docs", headers=lesson.bob.headers)
    seen = {d["name"]: d["access"] for d in bob.json()["documents"]}
    assert seen == {
        "demo": "read",
        f"students/{lesson.bob.id}/main.py": "write",
        "pairs/team1/main.py": "write",
    }


async def test_pairs_are_set_by_staff_only_and_checked(
    client: httpx.AsyncClient, lesson: Lesson
) -> None:
    room = lesson.room_id
    by_student = await client.put(
        f"/api/rooms/{room}/pairs/g", json={"user_ids": []}, headers=lesson.alice.headers
    )
    assert by_student.status_code == 403
    stranger = await client.put(
        f"/api/rooms/{room}/pairs/g", json={"user_ids": [999999]}, headers=lesson.teacher.headers
    )
    assert stranger.status_code == 400
    assert stranger.json()["error"]["code"] == "not_members"
    bad = await client.put(
        f"/api/rooms/{room}/pairs/a b", json={"user_ids": []}, headers=lesson.teacher.headers
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "invalid_group"


async def test_unknown_room_and_strangers(client: httpx.AsyncClient, lesson: Lesson) -> None:
    missing = await client.get("/api/rooms/999999/docs", headers=lesson.teacher.headers)
    assert missing.status_code == 404
    anonymous = await client.get(f"/api/rooms/{lesson.room_id}/docs")
    assert anonymous.status_code == 401
