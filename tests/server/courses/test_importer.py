"""Importing the example course: CLI and upload, update in place, refusals, visibility."""

from __future__ import annotations

import asyncio
import io
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import httpx

from tests.conftest import Lesson, state_of
from tests.services import ROOT

COURSE = ROOT / "examples" / "course"


def zipped(folder: Path, prefix: str = "course") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, f"{prefix}/{path.relative_to(folder)}")
    return buffer.getvalue()


async def upload(
    client: httpx.AsyncClient, lesson: Lesson, data: bytes, who: str = "teacher"
) -> httpx.Response:
    account = lesson.teacher if who == "teacher" else lesson.alice
    return await client.post(
        f"/api/classrooms/{lesson.classroom['id']}/course",
        content=data,
        headers={**account.headers, "content-type": "application/zip"},
    )


async def test_upload_example_course_then_again(client: httpx.AsyncClient, lesson: Lesson) -> None:
    response = await upload(client, lesson, zipped(COURSE))
    assert response.status_code == 200, response.text
    report = response.json()
    assert len(report["exercises"]) >= 4 and len(report["demos"]) >= 2
    assert {e["status"] for e in report["exercises"]} == {"created"}
    languages = {
        e["language"]
        for e in (
            await client.get(
                f"/api/classrooms/{lesson.classroom['id']}/exercises",
                headers=lesson.teacher.headers,
            )
        ).json()["exercises"]
    }
    assert {"python", "javascript", "c"} <= languages

    again = (await upload(client, lesson, zipped(COURSE))).json()
    assert {e["status"] for e in again["exercises"] + again["demos"]} == {"unchanged"}

    demos = (
        await client.get(
            f"/api/classrooms/{lesson.classroom['id']}/demos", headers=lesson.alice.headers
        )
    ).json()["demos"]
    assert demos and all("definition" not in d for d in demos)
    staff_demos = (
        await client.get(
            f"/api/classrooms/{lesson.classroom['id']}/demos", headers=lesson.teacher.headers
        )
    ).json()["demos"]
    assert all(d["definition"]["steps"] for d in staff_demos)


async def test_students_see_what_visibility_allows(
    client: httpx.AsyncClient, lesson: Lesson
) -> None:
    assert (await upload(client, lesson, zipped(COURSE))).status_code == 200
    base = f"/api/classrooms/{lesson.classroom['id']}/exercises"
    staff = {
        e["id"]: e
        for e in (await client.get(base, headers=lesson.teacher.headers)).json()["exercises"]
    }
    student = {
        e["id"]: e
        for e in (await client.get(base, headers=lesson.alice.headers)).json()["exercises"]
    }
    assert staff.keys() == student.keys()
    hidden_seen = False
    for exercise_id, full in staff.items():
        mine = {t["name"]: t for t in student[exercise_id]["tests"]}
        for test in full["tests"]:
            if test["visibility"] == "hidden":
                hidden_seen = True
                assert test["name"] in mine
                assert "expected" not in mine[test["name"]] and "source" not in mine[test["name"]]
                assert "args" not in mine[test["name"]]
            if test["visibility"] == "visible" and "expected" in test:
                assert mine[test["name"]]["expected"] == test["expected"]
    assert hidden_seen, "the example course should show a hidden test"
    clamp = {t["name"]: t for t in staff["clamp"]["tests"]}
    assert clamp["below the range"] == {
        "name": "below the range",
        "visibility": "hidden",
        "points": 1.0,
        "function": "clamp",
        "args": [-7, 0, 10],
        "expected": 0,
    }
    one = await client.get(f"{base}/{next(iter(staff))}", headers=lesson.alice.headers)
    assert one.status_code == 200
    missing = await client.get(f"{base}/no-such-exercise", headers=lesson.alice.headers)
    assert missing.status_code == 404


async def test_refusals_write_nothing(
    client: httpx.AsyncClient, lesson: Lesson, tmp_path: Path
) -> None:
    assert (await upload(client, lesson, zipped(COURSE), who="alice")).status_code == 403
    broken = tmp_path / "broken"
    shutil.copytree(COURSE, broken)
    target = sorted((broken / "exercises").glob("*.toml"))[0]
    target.write_text(target.read_text() + "\n[[tests]]\nname = 3\n")
    response = await upload(client, lesson, zipped(broken))
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert message.startswith(f"exercises/{target.name}:"), message
    assert (await upload(client, lesson, b"not an archive")).json()["error"][
        "code"
    ] == "invalid_course"
    evil = io.BytesIO()
    with tarfile.open(fileobj=evil, mode="w:gz") as archive:
        info = tarfile.TarInfo("../escape.toml")
        info.size = 3
        archive.addfile(info, io.BytesIO(b"x=1"))
    response = await upload(client, lesson, evil.getvalue())
    assert (
        response.status_code == 400
        and "inside the course folder" in response.json()["error"]["message"]
    )
    listed = (
        await client.get(
            f"/api/classrooms/{lesson.classroom['id']}/exercises", headers=lesson.teacher.headers
        )
    ).json()
    assert listed["exercises"] == []


async def test_cli_import_updates_in_place(
    client: httpx.AsyncClient, lesson: Lesson, tmp_path: Path
) -> None:
    app = client._transport.app  # type: ignore[attr-defined]
    settings = state_of(app).settings
    course = tmp_path / "course"
    shutil.copytree(COURSE, course)
    env = {
        "CLASSROOM_DATABASE_URL": settings.database_url,
        "CLASSROOM_DATA_DIR": str(tmp_path),
        "PATH": "/usr/bin:/bin",
    }
    command = [
        sys.executable,
        "-m",
        "server",
        "import-course",
        str(course),
        "--classroom",
        str(lesson.classroom["id"]),
    ]
    first = await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert first.returncode == 0, first.stderr
    assert "created" in first.stdout
    exercise_file = sorted((course / "exercises").glob("*.toml"))[0]
    exercise_file.write_text(
        exercise_file.read_text().replace('title = "', 'title = "Renamed: ', 1)
    )
    second = await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert second.returncode == 0, second.stderr
    assert second.stdout.count(": updated") == 1, second.stdout
    missing = await asyncio.to_thread(
        subprocess.run,
        [*command[:-1], "999"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert missing.returncode == 1 and "classroom 999 does not exist" in missing.stderr


HIDDEN_ASSERTS = """
[[tests]]
kind = "unit"
name = "hidden asserts"
file = "test_fizzbuzz.py"
visibility = "hidden"
"""


async def test_hidden_assert_style_tests_need_the_flag_and_warn(
    client: httpx.AsyncClient, lesson: Lesson, tmp_path: Path
) -> None:
    course = tmp_path / "course"
    shutil.copytree(COURSE, course)
    fizzbuzz = course / "exercises" / "fizzbuzz" / "exercise.toml"
    original = fizzbuzz.read_text()
    fizzbuzz.write_text(original + HIDDEN_ASSERTS)
    refused = await upload(client, lesson, zipped(course))
    assert refused.status_code == 400
    assert "forgeable_hidden = true" in refused.json()["error"]["message"]
    fizzbuzz.write_text(original + HIDDEN_ASSERTS + "forgeable_hidden = true\n")
    accepted = await upload(client, lesson, zipped(course))
    assert accepted.status_code == 200, accepted.text
    (warning,) = accepted.json()["warnings"]
    assert warning.startswith("fizzbuzz: test 'hidden asserts' is hidden but assert-style")
    settings = state_of(client._transport.app).settings  # type: ignore[attr-defined]
    env = {
        "CLASSROOM_DATABASE_URL": settings.database_url,
        "CLASSROOM_DATA_DIR": str(tmp_path),
        "PATH": "/usr/bin:/bin",
    }
    command = [sys.executable, "-m", "server", "import-course", str(course)]
    command += ["--classroom", str(lesson.classroom["id"])]
    cli = await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert cli.returncode == 0, cli.stderr
    assert f"warning: {warning}" in cli.stderr
