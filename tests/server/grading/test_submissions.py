"""Grading end to end on a served app: HTTP and socket submissions graded in the sandbox,
visibility as a student sees it, penalties, the rate limit, regrade, exports, and the
leaderboard moving for everyone in the room."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from server.courses.importer import import_course
from server.store import Store
from tests.conftest import Lesson, LiveServer, join_as, new_classroom
from tests.support.events import EventClient

pytestmark = pytest.mark.bwrap

DATABASES = ("sqlite", "postgres")

EXERCISE = """
id = "double"
title = "Double it"
language = "python"
prompt = "Read an integer, print twice its value."
rate_limit = {{ count = 4, window = 60 }}
due = {due}

[starter]
"main.py" = "n = int(input())\\n"

[penalties]
attempts = [0, 50]

[[tests]]
name = "two"
stdin = "2\\n"
expected = "4"
points = 2

[[tests]]
name = "secret"
stdin = "21\\n"
expected = "42"
points = 2
visibility = "hidden"

[[tests]]
name = "after the deadline"
stdin = "0\\n"
expected = "{zero}"
points = 1
visibility = "after_due"
"""

RIGHT = "print(2 * int(input()))\n"
HALF = "n = int(input())\nprint(4 if n == 2 else 0)\n"


def write_course(root: Path, zero: str = "0") -> Path:
    due = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    (root / "exercises").mkdir(parents=True, exist_ok=True)
    (root / "exercises" / "double.toml").write_text(EXERCISE.format(due=due, zero=zero))
    return root


async def load(server: LiveServer, lesson: Lesson, folder: Path) -> None:
    store = Store(server.settings.database_url)
    try:
        await import_course(store, lesson.classroom["id"], folder)
    finally:
        await store.close()


@pytest.fixture
async def course(server: LiveServer, live_lesson: Lesson, tmp_path: Path) -> Path:
    folder = write_course(tmp_path / "course")
    await load(server, live_lesson, folder)
    return folder


async def test_http_submission_and_visibility(
    server: LiveServer, live_lesson: Lesson, course: Path
) -> None:
    path = f"/api/rooms/{live_lesson.room_id}/exercises/double/submissions"
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
        response = await http.post(
            path, json={"files": {"main.py": HALF}}, headers=live_lesson.alice.headers
        )
        assert response.status_code == 201, response.text
        mine = response.json()
        assert mine["status"] == "graded" and mine["attempt"] == 1
        results = mine["results"]
        tests = {t["name"]: t for t in results["tests"]}
        assert set(tests) == {"two", "secret"}  # after_due is not shown before the due date
        assert tests["two"]["status"] == "passed" and tests["two"]["score"] == 2
        assert tests["secret"]["status"] == "failed"
        assert "output" not in tests["secret"] or not tests["secret"]["output"]
        assert (results["score"], results["max_score"]) == (2, 4)

        staff = await http.get(
            f"/api/submissions/{mine['id']}", headers=live_lesson.teacher.headers
        )
        full = {t["name"]: t for t in staff.json()["results"]["tests"]}
        assert set(full) == {"two", "secret", "after the deadline"}
        assert full["secret"]["output"]
        other = await http.get(f"/api/submissions/{mine['id']}", headers=live_lesson.bob.headers)
        assert other.status_code == 403

        second = await http.post(
            path, json={"files": {"main.py": RIGHT}}, headers=live_lesson.alice.headers
        )
        graded = second.json()
        assert graded["attempt"] == 2
        assert graded["results"]["score"] == pytest.approx(
            2.0
        )  # 4/4 before due, attempt 2 loses 50 %

        for _ in range(2):
            await http.post(
                path, json={"files": {"main.py": RIGHT}}, headers=live_lesson.alice.headers
            )
        limited = await http.post(
            path, json={"files": {"main.py": RIGHT}}, headers=live_lesson.alice.headers
        )
        assert limited.status_code == 429 and limited.json()["error"]["code"] == "rate_limited"

        missing = await http.post(
            f"/api/rooms/{live_lesson.room_id}/exercises/nope/submissions",
            json={"files": {"main.py": RIGHT}},
            headers=live_lesson.bob.headers,
        )
        assert missing.status_code == 404

        # The room is checked before anything is read or graded: no such room, not a member.
        nowhere = await http.post(
            "/api/rooms/999999/exercises/double/submissions",
            json={"files": {"main.py": RIGHT}},
            headers=live_lesson.bob.headers,
        )
        assert nowhere.status_code == 404
        assert nowhere.json()["error"]["code"] == "unknown_room"
        other = await new_classroom(http, live_lesson.teacher)
        outsider = await join_as(http, other["join_code"], "Mallory")
        foreign = await http.post(
            path, json={"files": {"main.py": RIGHT}}, headers=outsider.headers
        )
        assert foreign.status_code == 403
        assert foreign.json()["error"]["code"] == "not_a_member"

        exported = await http.get(
            f"/api/classrooms/{live_lesson.classroom['id']}/grades.csv?keep=latest",
            headers=live_lesson.teacher.headers,
        )
        rows = list(csv.DictReader(io.StringIO(exported.text)))
        # Bob never tried: his row is there, empty.
        assert [(r["student"], r["exercise"], r["attempt"], r["status"]) for r in rows] == [
            ("Alice", "double", "4", "graded"),
            ("Bob", "double", "", "not attempted"),
        ]
        assert rows[1]["max_score"] == "5" and rows[1]["shown_max_score"] == "4"
        # Times carry their offset.
        assert datetime.fromisoformat(rows[0]["submitted_at"]).utcoffset() == timedelta(0)
        # The best attempt is the first (3 of 5, no attempt penalty): the final grade over
        # every test, and what Alice sees before the due date (the after-due test withheld).
        best = await http.get(
            f"/api/classrooms/{live_lesson.classroom['id']}/grades.csv",
            headers=live_lesson.teacher.headers,
        )
        alice = next(csv.DictReader(io.StringIO(best.text)))
        assert (alice["kept"], alice["attempt"], alice["attempts"]) == ("best", "1", "4")
        assert (alice["score"], alice["max_score"]) == ("3", "5")
        assert (alice["shown_score"], alice["shown_max_score"]) == ("2", "4")
        table = await http.get(
            f"/api/classrooms/{live_lesson.classroom['id']}/gradebook?keep=latest",
            headers=live_lesson.teacher.headers,
        )
        sheet = table.json()
        assert sheet["exercises"][0]["shown_max_score"] == 4
        cells = {s["name"]: s["grades"]["double"] for s in sheet["students"]}
        assert cells["Alice"]["attempt"] == 4 and cells["Bob"]["status"] == "not attempted"
        wrong = await http.get(
            f"/api/classrooms/{live_lesson.classroom['id']}/gradebook?keep=worst",
            headers=live_lesson.teacher.headers,
        )
        assert wrong.status_code == 400 and wrong.json()["error"]["code"] == "bad_keep"
        as_json = await http.get(
            f"/api/classrooms/{live_lesson.classroom['id']}/grades.json",
            headers=live_lesson.teacher.headers,
        )
        student = as_json.json()["students"][0]
        assert set(student["exercises"]["double"]) >= {"score", "max_score", "tests"}
        denied = await http.get(
            f"/api/classrooms/{live_lesson.classroom['id']}/grades.csv",
            headers=live_lesson.alice.headers,
        )
        assert denied.status_code == 403


async def test_socket_submit_moves_the_leaderboard_for_everyone(
    server: LiveServer, live_lesson: Lesson, course: Path
) -> None:
    room = live_lesson.room_id
    teacher = await EventClient.open(server.ws_url, room, live_lesson.teacher.token)
    alice = await EventClient.open(server.ws_url, room, live_lesson.alice.token)
    bob = await EventClient.open(server.ws_url, room, live_lesson.bob.token)
    try:
        for client in (teacher, alice, bob):
            snapshot = await client.expect("room.snapshot")
            assert snapshot["leaderboard"]["room"]["entries"] == []
        async with httpx.AsyncClient(base_url=server.url) as http:
            opened = await http.post(
                f"/api/rooms/{room}/exercises/double/live",
                json={"minutes": 5},
                headers=live_lesson.teacher.headers,
            )
            assert opened.status_code == 201
        assert (await bob.expect("exercise.opened"))["exercise_id"] == "double"

        await alice.send(
            {"type": "submit", "exercise_id": "double", "files": {"main.py": RIGHT}, "ref": 9}
        )
        accepted = await alice.expect("submission.accepted")
        assert accepted["ref"] == 9 and accepted["attempt"] == 1
        result = await alice.expect("grade.result")
        assert result["submission"]["results"]["score"] == 4
        assert {t["name"] for t in result["submission"]["results"]["tests"]} == {"two", "secret"}
        staff_view = await teacher.expect("grade.result")
        assert len(staff_view["submission"]["results"]["tests"]) == 3

        for client in (teacher, alice, bob):
            update = await client.expect("leaderboard.update")
            if update.get("board") != "room":
                update = await client.expect("leaderboard.update", board="room")
            names = [e["name"] for e in update["entries"]]
            assert names == ["Alice"], update
        # Sent to the room along with the board (in whatever order): look at all Bob saw.
        unlocked = [e for e in bob.seen if e["type"] == "achievement.unlocked"]
        if not unlocked:
            unlocked = [await bob.expect("achievement.unlocked")]
        assert unlocked[0]["name"] == "Alice"
        assert not [e for e in bob.seen if e["type"] == "grade.result"]

        await bob.send(
            {
                "type": "submit",
                "exercise_id": "double",
                "doc": f"students/{live_lesson.alice.id}/main.py",
            }
        )
        assert (await bob.expect("error"))["code"] == "document_forbidden"

        async with httpx.AsyncClient(base_url=server.url) as http:
            board = (
                await http.get(f"/api/rooms/{room}/leaderboard", headers=live_lesson.bob.headers)
            ).json()
        assert [e["name"] for e in board["room"]["entries"]] == ["Alice"]
    finally:
        for client in (teacher, alice, bob):
            await client.close()


async def test_regrade_after_the_tests_change(
    server: LiveServer, live_lesson: Lesson, course: Path
) -> None:
    room = live_lesson.room_id
    path = f"/api/rooms/{room}/exercises/double/submissions"
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
        for account in (live_lesson.alice, live_lesson.bob):
            response = await http.post(
                path, json={"files": {"main.py": RIGHT}}, headers=account.headers
            )
            assert response.status_code == 201
        teacher = await EventClient.open(server.ws_url, room, live_lesson.teacher.token)
        try:
            await teacher.expect("room.snapshot")
            # The after_due test now expects what the submissions do not print.
            await load(server, live_lesson, write_course(course, zero="1"))
            started = await http.post(
                f"/api/classrooms/{live_lesson.classroom['id']}/exercises/double/regrade",
                headers=live_lesson.teacher.headers,
            )
            assert started.status_code == 202 and started.json()["total"] == 2
            finished = await teacher.expect("regrade.progress", state="finished", timeout=60)
            assert finished["done"] == 2
        finally:
            await teacher.close()
        listed = (
            await http.get(f"/api/rooms/{room}/submissions", headers=live_lesson.teacher.headers)
        ).json()
        for submission in listed["submissions"]:
            tests = {t["name"]: t["status"] for t in submission["results"]["tests"]}
            assert tests["after the deadline"] == "failed"
        mine = (
            await http.get(f"/api/rooms/{room}/submissions", headers=live_lesson.alice.headers)
        ).json()
        assert [s["user_id"] for s in mine["submissions"]] == [live_lesson.alice.id]
