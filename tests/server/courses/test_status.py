"""The classroom's course as the dashboard card shows it: what is loaded, and the last import
with every error (``file:line: reason``) kept until the next import."""

from __future__ import annotations

import io
import zipfile

import httpx

from tests.conftest import Lesson

GOOD = """id = "greet"
title = "Greet"
language = "python"
[[tests]]
name = "hello"
expected = "hello"
"""


def archive(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as out:
        for name, text in files.items():
            out.writestr(name, text)
    return buffer.getvalue()


async def test_the_last_import_and_the_loaded_course(
    client: httpx.AsyncClient, lesson: Lesson
) -> None:
    base = f"/api/classrooms/{lesson.classroom['id']}/course"
    headers = {**lesson.teacher.headers, "content-type": "application/zip"}
    empty = (await client.get(base, headers=lesson.teacher.headers)).json()
    assert empty == {"exercises": [], "demos": [], "last_import": None}

    ok = await client.post(base, content=archive({"exercises/greet.toml": GOOD}), headers=headers)
    assert ok.status_code == 200, ok.text
    # An exercise in a language no room can run is refused, with the other bad file, and the
    # good exercise of the same id stays as it was.
    cobol = GOOD.replace('"python"', '"cobol"')
    broken = {"exercises/greet.toml": cobol, "exercises/zero.toml": GOOD.replace("greet", "0 x")}
    refused = await client.post(base, content=archive(broken), headers=headers)
    assert refused.status_code == 400
    status = (await client.get(base, headers=lesson.teacher.headers)).json()
    assert [e["id"] for e in status["exercises"]] == ["greet"]
    assert status["exercises"][0]["language"] == "python"
    last = status["last_import"]
    assert last["ok"] is False and last["at"].endswith("+00:00")
    assert last["errors"] == [
        "exercises/greet.toml:3: language: unknown language 'cobol'; "
        "known: c, cpp, go, javascript, python, rust, typescript",
        "exercises/zero.toml:1: id: must be 1 to 64 of a-z, 0-9, '_' and '-', "
        "starting with a letter or digit",
    ]
    assert refused.json()["error"]["message"] == "\n".join(last["errors"])

    again = await client.post(
        base, content=archive({"exercises/greet.toml": GOOD}), headers=headers
    )
    assert again.status_code == 200
    last = (await client.get(base, headers=lesson.teacher.headers)).json()["last_import"]
    assert last["ok"] is True and last["errors"] == []
    assert last["report"]["exercises"] == [{"id": "greet", "title": "Greet", "status": "unchanged"}]
    denied = await client.get(base, headers=lesson.alice.headers)
    assert denied.status_code == 403
