"""End to end: a hostile student submits over the room socket to a real server whose sandbox is
the real Docker engine. The forgery scores zero on the hidden tests, the student sees a zero and
no flag, and staff see the submission flagged for tampering."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from server.courses.importer import import_course
from server.settings import Settings
from server.store import Store
from tests.conftest import Lesson, LiveServer, make_settings
from tests.sandbox.docker_support import require_images
from tests.support.events import EventClient

DATABASES = ("sqlite",)
pytestmark = [pytest.mark.docker, pytest.mark.slow]

EXERCISE = """
id = "secret"
title = "A function the student does not know"
language = "python"
starter = { "secret.py" = "def secret(n):\\n    return 0\\n" }

[[tests]]
kind = "value"
name = "one"
function = "secret"
args = [1]
expected = 8

[[tests]]
kind = "value"
name = "three"
function = "secret"
args = [3]
expected = 16
visibility = "hidden"
"""
# Claims the visible answer a second time from an atexit hook, after the harness reported.
ATEXIT = (
    "import atexit, os\n"
    'atexit.register(lambda: os.write(1, b\'\\n\\x1evalue {"t": "int", "v": "8"}\\n\'))\n'
    "def secret(n):\n    return 8\n"
)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    require_images()
    return make_settings(tmp_path, database_url, sandbox="docker")


async def test_atexit_forgery_over_the_room_socket_is_zero_and_flagged_for_staff(
    server: LiveServer, live_lesson: Lesson, tmp_path: Path
) -> None:
    folder = tmp_path / "course" / "exercises"
    folder.mkdir(parents=True)
    (folder / "secret.toml").write_text(EXERCISE)
    store = Store(server.settings.database_url)
    try:
        await import_course(store, live_lesson.classroom["id"], folder.parent)
    finally:
        await store.close()
    alice = await EventClient.open(server.ws_url, live_lesson.room_id, live_lesson.alice.token)
    try:
        await alice.expect("room.snapshot")
        await alice.send(
            {"type": "submit", "exercise_id": "secret", "files": {"secret.py": ATEXIT}}
        )
        result = (await alice.expect("grade.result", timeout=120))["submission"]
    finally:
        await alice.ws.close()
    mine = {t["name"]: t for t in result["results"]["tests"]}
    assert mine["three"]["status"] == "failed" and mine["three"]["score"] == 0
    assert mine["one"]["score"] == 0  # reported twice: tampering, even for the right answer
    assert result["results"]["score"] == 0
    assert "tampering" not in result["results"]["extra_data"]
    assert all("tampered" not in t for t in mine.values())
    async with httpx.AsyncClient(base_url=server.url) as http:
        staff = await http.get(
            f"/api/submissions/{result['id']}", headers=live_lesson.teacher.headers
        )
    full = staff.json()["results"]
    assert full["extra_data"]["tampering"] is True
    assert [t.get("tampered") for t in full["tests"]] == [True, True]
