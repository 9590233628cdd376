"""A student's demo moves and quiz answers a minute (CLASSROOM_DEMO_MOVES_PER_MINUTE). Before:
toggling detach and follow within the socket's budget (90 a second) stored 90 timeline rows a
second, sent the instructors 90 events a second, and cost 17 % of a core (37 % with Redis)."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.settings import Settings
from tests.conftest import Lesson, LiveServer, make_settings
from tests.server.demos.course import import_into, write_course
from tests.support.events import close_all, opened

DATABASES = ("sqlite", "postgres")


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url, demo_moves_per_minute="4")


async def test_a_students_moves_are_bounded_and_the_demo_goes_on(
    server: LiveServer, live_lesson: Lesson, tmp_path: Path
) -> None:
    await import_into(
        server.settings.database_url, live_lesson.classroom["id"], write_course(tmp_path / "c")
    )
    room = live_lesson.room_id
    teacher, _ = await opened(server.ws_url, room, live_lesson.teacher.token)
    alice, _ = await opened(server.ws_url, room, live_lesson.alice.token)
    bob, _ = await opened(server.ws_url, room, live_lesson.bob.token)
    try:
        await teacher.send({"type": "demo.start", "demo_id": "tour"})
        await alice.expect("demo.step")
        await bob.expect("demo.step")
        for move in ("demo.detach", "demo.follow") * 2:
            await alice.send({"type": move})
            assert (await teacher.expect("demo.followers"))["students"] == 2
        await alice.send({"type": "demo.detach"})
        refused = await alice.expect("error")
        assert refused["code"] == "rate_limited"
        assert "at most 4 a minute" in refused["message"]
        # Bob's moves are his own, and the room follows the instructor as before.
        await bob.send({"type": "demo.detach"})
        assert (await teacher.expect("demo.followers"))["detached"] == [live_lesson.bob.id]
        await teacher.send({"type": "demo.next"})
        assert (await alice.expect("demo.step"))["index"] == 1
    finally:
        await close_all(teacher, alice, bob)
