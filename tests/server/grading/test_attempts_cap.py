"""A student's attempts at one exercise (CLASSROOM_MAX_SUBMISSIONS_PER_EXERCISE). Each keeps
its files (up to 1 MiB): at six a minute, one student's script stored 8 GiB a day."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from server.settings import Settings
from tests.conftest import Lesson, LiveServer, make_settings
from tests.server.grading.test_submissions import RIGHT, load, write_course
from tests.support.events import EventClient

DATABASES = ("sqlite", "postgres")
pytestmark = pytest.mark.bwrap


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url, max_submissions_per_exercise="2")


async def test_attempts_past_the_cap_are_refused_and_stored_nowhere(
    server: LiveServer, live_lesson: Lesson, tmp_path: Path
) -> None:
    await load(server, live_lesson, write_course(tmp_path / "course"))
    path = f"/api/rooms/{live_lesson.room_id}/exercises/double/submissions"
    body = {"files": {"main.py": RIGHT}}
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
        for attempt in (1, 2):
            made = await http.post(path, json=body, headers=live_lesson.alice.headers)
            assert made.status_code == 201, made.text
            assert made.json()["attempt"] == attempt
        refused = await http.post(path, json=body, headers=live_lesson.alice.headers)
        assert refused.status_code == 409, refused.text
        assert refused.json()["error"]["code"] == "too_many_submissions"
        assert "submitted 2 times" in refused.json()["error"]["message"]
        # Over the room socket too; Bob's first attempt is his own.
        alice = await EventClient.open(server.ws_url, live_lesson.room_id, live_lesson.alice.token)
        try:
            await alice.expect("room.snapshot")
            await alice.send({"type": "submit", "exercise_id": "double", **body})
            assert (await alice.expect("error"))["code"] == "too_many_submissions"
        finally:
            await alice.close()
        made = await http.post(path, json=body, headers=live_lesson.bob.headers)
        assert made.status_code == 201 and made.json()["attempt"] == 1
        mine = await http.get(
            f"/api/rooms/{live_lesson.room_id}/submissions", headers=live_lesson.alice.headers
        )
        assert sorted(s["attempt"] for s in mine.json()["submissions"]) == [1, 2]
