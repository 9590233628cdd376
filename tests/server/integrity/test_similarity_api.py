"""Similarity end to end through the API: submissions graded in the (local) sandbox, the
ranked report, one pair side by side, and instructors' reviews applying the penalty."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from server.courses.importer import import_course
from server.integrity.component import Integrity
from tests.conftest import Lesson, join_as, state_of

EXERCISE = '''
id = "stats"
title = "Statistics"
language = "python"

[starter]
"main.py" = """
import sys


def read_numbers():
    return [int(line) for line in sys.stdin if line.strip()]
"""

[similarity]
threshold = 0.5
penalty = 50
reference = { "main.py" = "print(sum(int(x) for x in open(0)))\\n" }

[[tests]]
name = "sum"
stdin = "1\\n2\\n"
expected = "3"
'''

ORIGINAL = """import sys


def read_numbers():
    return [int(line) for line in sys.stdin if line.strip()]


def total(values):
    result = 0
    for value in values:
        result += value
    return result


def describe(values):
    if not values:
        return "empty"
    smallest = min(values)
    largest = max(values)
    return "from %d to %d over %d values" % (smallest, largest, len(values))


numbers = read_numbers()
print(total(numbers))
if len(sys.argv) > 1:
    print(describe(numbers))
"""

# Renamed, reformatted, re-commented: the same program.
COPY = """import sys


def read_numbers():
    return [int(line) for line in sys.stdin if line.strip()]


# describe the data
def summary(xs):
    if not xs:
        return "nothing"
    lo = min(xs)
    hi = max(xs)
    return "range %d..%d, n=%d" % (lo, hi, len(xs))


def add_up(xs):
    acc = 0
    for x in xs:
        acc += x
    return acc


data = read_numbers()
print(add_up(data))
if len(sys.argv) > 1:
    print(summary(data))
"""

INDEPENDENT = """import sys


def read_numbers():
    return [int(line) for line in sys.stdin if line.strip()]


print(sum(read_numbers()))
"""


async def submit(
    client: httpx.AsyncClient, lesson: Lesson, headers: dict[str, str], code: str
) -> int:
    response = await client.post(
        f"/api/rooms/{lesson.room_id}/exercises/stats/submissions",
        json={"files": {"main.py": code}},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "graded"
    submission_id: int = response.json()["id"]
    return submission_id


@pytest.fixture
async def graded(
    app: Starlette, client: httpx.AsyncClient, lesson: Lesson, tmp_path: Path
) -> dict[str, Any]:
    (tmp_path / "course" / "exercises").mkdir(parents=True)
    (tmp_path / "course" / "exercises" / "stats.toml").write_text(EXERCISE)
    await import_course(state_of(app).store, lesson.classroom["id"], tmp_path / "course")
    carol = await join_as(client, lesson.classroom["join_code"], "Carol")
    ids = {
        "alice": await submit(client, lesson, lesson.alice.headers, ORIGINAL),
        "bob": await submit(client, lesson, lesson.bob.headers, COPY),
        "carol": await submit(client, lesson, carol.headers, INDEPENDENT),
        # The teacher tries the exercise: never one of the students' pairs.
        "teacher": await submit(client, lesson, lesson.teacher.headers, ORIGINAL),
    }
    return {"ids": ids, "carol": carol}


def base(lesson: Lesson) -> str:
    return f"/api/classrooms/{lesson.classroom['id']}/exercises/stats/similarity"


@pytest.mark.bwrap
async def test_report_ranks_the_copy_first_for_staff_only(
    client: httpx.AsyncClient, lesson: Lesson, graded: dict[str, Any]
) -> None:
    ids = graded["ids"]
    response = await client.get(base(lesson), headers=lesson.teacher.headers)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["submissions"] == 3
    assert all(
        lesson.teacher.id not in (p["a"]["user_id"], p["b"]["user_id"]) for p in report["pairs"]
    )
    top = report["pairs"][0]
    assert {top["a"]["submission_id"], top["b"]["submission_id"]} == {ids["alice"], ids["bob"]}
    assert {top["a"]["user_id"], top["b"]["user_id"]} == {lesson.alice.id, lesson.bob.id}
    assert top["similarity"] >= 0.5 and top["flagged"]
    assert top["fragments"] and all(
        len(f["a_lines"]) == 2 and f["a_lines"][0] <= f["a_lines"][1] for f in top["fragments"]
    )
    # Carol wrote only the starter plus one line: the starter is excluded, so nothing of
    # hers matches.
    assert all(
        graded["carol"].id not in (p["a"]["user_id"], p["b"]["user_id"]) for p in report["pairs"]
    )
    assert [p["similarity"] for p in report["pairs"]] == sorted(
        (p["similarity"] for p in report["pairs"]), reverse=True
    )

    refused = await client.get(base(lesson), headers=lesson.alice.headers)
    assert refused.status_code == 403
    # The instructor's reference solution never reaches a student.
    shown = await client.get(
        f"/api/classrooms/{lesson.classroom['id']}/exercises/stats", headers=lesson.alice.headers
    )
    assert shown.status_code == 200 and "open(0)" not in shown.text
    bad = await client.get(base(lesson) + "?limit=0", headers=lesson.teacher.headers)
    assert bad.status_code == 400
    missing = await client.get(
        f"/api/classrooms/{lesson.classroom['id']}/exercises/nope/similarity",
        headers=lesson.teacher.headers,
    )
    assert missing.status_code == 404


@pytest.mark.bwrap
async def test_new_submissions_update_the_same_index(
    app: Starlette, client: httpx.AsyncClient, lesson: Lesson, graded: dict[str, Any]
) -> None:
    await client.get(base(lesson), headers=lesson.teacher.headers)
    integrity: Integrity = state_of(app).integrity
    key = (lesson.classroom["id"], "stats")
    index = integrity.similarity._loaded[key].index
    carol = graded["carol"]
    again = await submit(client, lesson, carol.headers, ORIGINAL.replace("total", "overall"))
    report = (await client.get(base(lesson), headers=lesson.teacher.headers)).json()
    assert integrity.similarity._loaded[key].index is index  # updated, not rebuilt
    assert report["submissions"] == 3  # Carol's new submission replaced her first
    with_carol = [
        p for p in report["pairs"] if again in (p["a"]["submission_id"], p["b"]["submission_id"])
    ]
    assert with_carol and with_carol[0]["similarity"] > 0.9


@pytest.mark.bwrap
async def test_pair_side_by_side(
    client: httpx.AsyncClient, lesson: Lesson, graded: dict[str, Any]
) -> None:
    ids = graded["ids"]
    response = await client.get(
        f"{base(lesson)}/{ids['alice']}/{ids['bob']}", headers=lesson.teacher.headers
    )
    assert response.status_code == 200, response.text
    pair = response.json()
    assert pair["a"]["text"] == ORIGINAL and pair["b"]["text"] == COPY
    assert pair["a"]["name"] == "Alice" and pair["b"]["pastes"] == []
    assert pair["fragments"] and pair["similarity"] >= 0.5
    elsewhere = await client.get(
        f"{base(lesson)}/{ids['alice']}/999999", headers=lesson.teacher.headers
    )
    assert elsewhere.status_code == 404


@pytest.mark.bwrap
async def test_penalty_only_on_an_instructors_confirmation_and_only_once(
    app: Starlette, client: httpx.AsyncClient, lesson: Lesson, graded: dict[str, Any]
) -> None:
    ids = graded["ids"]
    reviews = f"{base(lesson)}/reviews"
    body = {"a_submission_id": ids["alice"], "b_submission_id": ids["bob"]}

    # The report alone changes no grade.
    await client.get(base(lesson), headers=lesson.teacher.headers)
    before = (
        await client.get(f"/api/submissions/{ids['bob']}", headers=lesson.teacher.headers)
    ).json()
    assert before["score"] == 1

    student = await client.post(
        reviews, json={**body, "verdict": "confirmed"}, headers=lesson.alice.headers
    )
    assert student.status_code == 403

    dismissed = await client.post(
        reviews, json={**body, "verdict": "dismissed"}, headers=lesson.teacher.headers
    )
    assert dismissed.status_code == 200, dismissed.text
    assert dismissed.json()["penalties"] == []

    confirmed = await client.post(
        reviews,
        json={**body, "verdict": "confirmed", "penalize": [lesson.bob.id]},
        headers=lesson.teacher.headers,
    )
    assert confirmed.status_code == 200, confirmed.text
    applied = confirmed.json()["penalties"]
    assert applied == [
        {"user_id": lesson.bob.id, "submission_id": ids["bob"], "percent": 50.0, "score": 0.5}
    ]
    bob = (
        await client.get(f"/api/submissions/{ids['bob']}", headers=lesson.teacher.headers)
    ).json()
    assert bob["score"] == 0.5
    assert {"kind": "similarity"}.items() <= bob["results"]["extra_data"]["penalties"][-1].items()
    alice = (
        await client.get(f"/api/submissions/{ids['alice']}", headers=lesson.teacher.headers)
    ).json()
    assert alice["score"] == 1

    twice = await client.post(
        reviews, json={**body, "verdict": "confirmed"}, headers=lesson.teacher.headers
    )
    assert [p["user_id"] for p in twice.json()["penalties"]] == [
        lesson.alice.id
    ]  # Bob's stays once

    below = await client.post(
        reviews,
        json={
            "a_submission_id": ids["alice"],
            "b_submission_id": ids["carol"],
            "verdict": "confirmed",
        },
        headers=lesson.teacher.headers,
    )
    assert below.json()["penalties"] == [] and "below" in below.json()["reason"]

    stray = await client.post(
        reviews,
        json={**body, "verdict": "confirmed", "penalize": [graded["carol"].id]},
        headers=lesson.teacher.headers,
    )
    assert stray.status_code == 400
    report = (await client.get(base(lesson), headers=lesson.teacher.headers)).json()
    assert report["pairs"][0]["review"]["verdict"] == "confirmed"


@pytest.mark.bwrap
async def test_least_recently_used_indexes_leave_memory_and_come_back(
    app: Starlette, client: httpx.AsyncClient, lesson: Lesson, graded: dict[str, Any]
) -> None:
    integrity: Integrity = state_of(app).integrity
    integrity.similarity.max_loaded = 0
    first = (await client.get(base(lesson), headers=lesson.teacher.headers)).json()
    assert integrity.similarity._loaded == {}
    again = (await client.get(base(lesson), headers=lesson.teacher.headers)).json()
    assert again == first and again["submissions"] == 3


def test_settings_of_history_and_pastes() -> None:
    from server.settings import Settings

    settings = Settings.from_env(
        {
            "CLASSROOM_SECRET_KEY": "k",
            "CLASSROOM_HISTORY_RETENTION_DAYS": "0",
            "CLASSROOM_PASTE_THRESHOLD_CHARS": "500",
        }
    )
    assert (settings.history_retention_days, settings.paste_threshold_chars) == (0.0, 500)
    assert Settings.from_env({"CLASSROOM_SECRET_KEY": "k"}).history_retention_days == 120.0
