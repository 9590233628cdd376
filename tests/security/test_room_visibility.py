"""One visibility rule for a room's documents: ``GET /api/rooms/{id}`` lists exactly what
``GET /api/rooms/{id}/docs`` lists, so another pair's file names do not leak."""

from __future__ import annotations

import httpx

from tests.conftest import LiveServer, make_lesson, new_room
from tests.security.test_storage_quota import text_update, write_stored

DATABASES = ("sqlite", "postgres")


async def test_room_detail_hides_other_pairs_files(server: LiveServer) -> None:
    lesson = await make_lesson(server.url, server.settings, server.state)
    async with httpx.AsyncClient(base_url=server.url) as http:
        room = await new_room(http, lesson.teacher, lesson.classroom["id"], kind="pair")
        for group, who in (("red", lesson.alice), ("blue", lesson.bob)):
            response = await http.put(
                f"/api/rooms/{room['id']}/pairs/{group}",
                json={"user_ids": [who.id]},
                headers=lesson.teacher.headers,
            )
            assert response.status_code == 200, response.text
    names = {
        "pairs/red/secret-plan.py": lesson.alice,
        "pairs/blue/answer-key.py": lesson.bob,
        f"students/{lesson.bob.id}/notes.py": lesson.bob,
    }
    for i, (name, who) in enumerate(names.items()):
        update = text_update("x", client_id=50 + i)
        await write_stored(
            server, room["id"], name, token=who.token, watcher=lesson.teacher.token, update=update
        )
    async with httpx.AsyncClient(base_url=server.url) as http:
        for who, expected in (
            (lesson.alice, {"pairs/red/secret-plan.py"}),
            (lesson.bob, {"pairs/blue/answer-key.py", f"students/{lesson.bob.id}/notes.py"}),
            (lesson.teacher, set(names)),
        ):
            detail = await http.get(f"/api/rooms/{room['id']}", headers=who.headers)
            listed = await http.get(f"/api/rooms/{room['id']}/docs", headers=who.headers)
            from_detail = {d["name"] for d in detail.json()["documents"]}
            from_docs = {d["name"] for d in listed.json()["documents"]}
            assert from_detail == from_docs == expected, who.name
