"""The class grid and the analytics of a class scripted here, graded for real, on SQLite and
PostgreSQL: every number is checked against what the script did (and the time to first pass
against the stored progress rows)."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import pytest
from sqlmodel import select

from server.models import Progress
from server.models.clock import as_utc
from server.store import Store
from tests.conftest import Account, Lesson, LiveServer, join_as
from tests.server.cockpit.conftest import NAME_ERROR, OTHER_NAME_ERROR, RIGHT, WRONG
from tests.support.events import EventClient

pytestmark = pytest.mark.bwrap

DATABASES = ("sqlite", "postgres")


async def submit(
    http: httpx.AsyncClient, lesson: Lesson, who: Account, code: str
) -> dict[str, Any]:
    response = await http.post(
        f"/api/rooms/{lesson.room_id}/exercises/sum/submissions",
        json={"files": {"main.py": code}},
        headers=who.headers,
    )
    assert response.status_code == 201, response.text
    graded: dict[str, Any] = response.json()
    assert graded["status"] == "graded", graded
    return graded


def nearest_rank(values: list[float], p: float) -> float:
    ordered = sorted(values)
    rank = next(i for i in range(1, len(ordered) + 1) if i >= p * len(ordered))
    return ordered[rank - 1]


@pytest.mark.usefixtures("course")
async def test_grid_analytics_and_progress_update_follow_a_scripted_class(
    server: LiveServer, live_lesson: Lesson
) -> None:
    lesson = live_lesson
    alice, bob = lesson.alice, lesson.bob
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
        carol = await join_as(http, lesson.classroom["join_code"], "Carol")
        dan = await join_as(http, lesson.classroom["join_code"], "Dan")
        eve = await join_as(http, lesson.classroom["join_code"], "Eve")
        teacher = await EventClient.open(server.ws_url, lesson.room_id, lesson.teacher.token)
        student = await EventClient.open(server.ws_url, lesson.room_id, alice.token)
        await teacher.expect("room.snapshot")
        await student.expect("room.snapshot")

        for code in (NAME_ERROR, OTHER_NAME_ERROR, RIGHT):
            await submit(http, lesson, alice, code)
        for code in (NAME_ERROR, WRONG):
            await submit(http, lesson, bob, code)
        await submit(http, lesson, carol, RIGHT)
        for code in (WRONG, RIGHT):
            await submit(http, lesson, eve, code)
        # Bob's third failure makes him stuck: the staff's grid learns it live.
        graded = await submit(http, lesson, bob, WRONG)
        result = await teacher.expect("grade.result")
        while result["submission"]["id"] != graded["id"]:
            result = await teacher.expect("grade.result")
        update = await teacher.expect("progress.update")
        assert update["student"] == {"id": bob.id, "name": "Bob"}
        cell = update["cell"]
        assert (cell["user_id"], cell["exercise_id"], cell["state"]) == (bob.id, "sum", "failing")
        assert (cell["attempts"], cell["stuck"], cell["best_score"]) == (3, True, 1.0)
        assert cell["last_error"].startswith("line 1:")
        # A student never receives progress.update.
        await student.send({"type": "ping"})
        await student.expect("pong")
        assert not [e for e in student.seen if e["type"] == "progress.update"]

        grid_response = await http.get(
            f"/api/rooms/{lesson.room_id}/progress", headers=lesson.teacher.headers
        )
        assert grid_response.status_code == 200, grid_response.text
        grid = grid_response.json()
        assert {s["name"] for s in grid["students"]} == {"Alice", "Bob", "Carol", "Dan", "Eve"}
        assert [e["id"] for e in grid["exercises"]] == ["sum"]
        cells = {c["user_id"]: c for c in grid["cells"]}
        assert grid["cells"][0]["user_id"] == bob.id  # stuck sorts to the top
        assert set(grid["cells"][0]) == {
            "user_id", "exercise_id", "state", "attempts", "best_score", "max_score",
            "last_error", "last_change_at", "stuck",
        }  # fmt: skip
        expected = {
            alice.id: ("passed", 3, 2.0, False),
            bob.id: ("failing", 3, 1.0, True),
            carol.id: ("passed", 1, 2.0, False),
            dan.id: ("not_started", 0, 0.0, False),
            eve.id: ("passed", 2, 2.0, False),
        }
        got = {
            u: (c["state"], c["attempts"], c["best_score"], c["stuck"]) for u, c in cells.items()
        }
        assert got == expected
        assert cells[dan.id]["last_change_at"] is None and cells[dan.id]["last_error"] is None
        assert cells[alice.id]["last_error"] is None and cells[alice.id]["max_score"] == 2.0

        url = f"/api/classrooms/{lesson.classroom['id']}/exercises/sum/analytics"
        data = (await http.get(url, headers=lesson.teacher.headers)).json()
        assert (data["students"], data["attempted"], data["passed"]) == (5, 4, 3)
        assert data["pass_rate"] == 0.75
        # Attempts of those who tried: Carol 1, Eve 2, Alice 3, Bob 3 (nearest rank).
        assert data["attempts"] == {"median": 2.0, "p90": 3.0}
        assert data["attempts_histogram"] == [
            {"attempts": 1, "students": 1},
            {"attempts": 2, "students": 1},
            {"attempts": 3, "students": 2},
        ]
        tests = {t["test"]: t for t in data["tests"]}
        # adds fails in the NameError attempts (Alice 2, Bob 1); negatives also in WRONG ones.
        assert tests["adds"] == {
            "test": "adds",
            "attempts": 9,
            "failures": 3,
            "students_failing": 2,
        }
        assert tests["negatives"] == {
            "test": "negatives", "attempts": 9, "failures": 6, "students_failing": 3,
        }  # fmt: skip
        assert [t["test"] for t in data["tests"]] == ["negatives", "adds"]
        errors = data["errors"]
        assert len(errors) == 2
        name_error, wrong = errors
        assert name_error["signature"].startswith("NameError: name <name> is not defined")
        assert name_error["count"] == 3
        assert [s["name"] for s in name_error["students"]] == ["Alice", "Bob"]
        assert wrong["signature"].startswith("line <n>: expected")
        assert wrong["count"] == 3 and [s["name"] for s in wrong["students"]] == ["Bob", "Eve"]

        store = Store(server.settings.database_url)
        try:
            async with store.session() as session:
                rows = (await session.exec(select(Progress).where(Progress.passed))).all()
        finally:
            await store.close()
        seconds = [
            (as_utc(r.first_pass_at) - as_utc(r.first_attempt_at)).total_seconds()
            for r in rows
            if r.first_pass_at and r.first_attempt_at
        ]
        assert len(seconds) == 3
        timing = data["time_to_first_pass_seconds"]
        assert timing["median"] == pytest.approx(nearest_rank(seconds, 0.5), abs=0.01)
        assert timing["p90"] == pytest.approx(nearest_rank(seconds, 0.9), abs=0.01)

        exported = await http.get(url + "?format=csv", headers=lesson.teacher.headers)
        assert exported.headers["content-type"].startswith("text/csv")
        rows_csv = list(csv.DictReader(io.StringIO(exported.text)))
        assert {"kind": "summary", "name": "pass_rate", "count": "0.75"}.items() <= rows_csv[
            3
        ].items()
        assert any(r["kind"] == "error" and r["detail"] == "Bob; Eve" for r in rows_csv)

        # Refusals: a student sees neither the grid nor the analytics.
        for path in (f"/api/rooms/{lesson.room_id}/progress", url):
            refused = await http.get(path, headers=alice.headers)
            assert refused.status_code == 403, path
        unknown = await http.get(url.replace("/sum/", "/nope/"), headers=lesson.teacher.headers)
        assert unknown.status_code == 404
        await teacher.ws.close()
        await student.ws.close()
