"""Two server processes and a sandbox worker on one Redis and one PostgreSQL database:
a student graded through process A moves the leaderboard seen on process B."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from server.courses.importer import import_course
from server.store import Store
from tests.server.grading.test_submissions import RIGHT, write_course
from tests.server.processes import (
    PrivateRedis,
    ServerProcess,
    prepare_lesson,
    server_env,
    start_worker,
    stop_worker,
)
from tests.support.events import EventClient

pytestmark = pytest.mark.bwrap

DATABASES = ("postgres",)


async def test_grade_on_a_moves_the_board_on_b(
    database_url: str, redis_server: PrivateRedis, tmp_path: Path
) -> None:
    env = server_env(tmp_path, database_url, redis_url=redis_server.url)
    first, second = ServerProcess(env), ServerProcess(env)
    await first.start()
    await second.start()
    worker = await start_worker(env)
    try:
        lesson = await prepare_lesson(database_url, first.url)
        store = Store(database_url)
        try:
            await import_course(store, lesson.classroom["id"], write_course(tmp_path / "course"))
        finally:
            await store.close()
        room = lesson.room_id
        teacher = await EventClient.open(second.ws_url, room, lesson.teacher.token)
        bob = await EventClient.open(second.ws_url, room, lesson.bob.token)
        alice = await EventClient.open(first.ws_url, room, lesson.alice.token)
        try:
            for client in (teacher, bob, alice):
                await client.expect("room.snapshot")
            await alice.send(
                {"type": "submit", "exercise_id": "double", "files": {"main.py": RIGHT}}
            )
            assert (await alice.expect("grade.result", timeout=60))["submission"]["results"][
                "score"
            ] == 4
            staff = await teacher.expect("grade.result", timeout=30)
            assert staff["submission"]["user_id"] == lesson.alice.id
            update = await bob.expect("leaderboard.update", timeout=30, board="room")
            assert [e["name"] for e in update["entries"]] == ["Alice"]
            async with httpx.AsyncClient(base_url=second.url) as http:
                board = (
                    await http.get(f"/api/rooms/{room}/leaderboard", headers=lesson.bob.headers)
                ).json()
            assert [e["name"] for e in board["room"]["entries"]] == ["Alice"]
            # Presence crosses processes too: B's snapshot lists Alice (on A) as online.
            late = await EventClient.open(second.ws_url, room, lesson.bob.token)
            snapshot = await late.expect("room.snapshot")
            assert {m["name"] for m in snapshot["members"] if m["online"]} == {
                "Ada",
                "Alice",
                "Bob",
            }
            await late.close()
        finally:
            for client in (teacher, bob, alice):
                await client.close()
    finally:
        await stop_worker(worker)
        await first.stop()
        await second.stop()
