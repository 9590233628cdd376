"""NUL (U+0000) from a student, from nobody, or from a student's program: refused where it comes
in, or stored as U+FFFD, on both databases (server/security/text.py).

Before, on PostgreSQL (whose text cannot hold NUL; SQLite's can): ``%00`` in a name of an
address was a 500 with a traceback on every route that looks a name up, and on ``/lti/login``
and ``/lti/launch`` for anybody; ``\\u0000`` in a comment was a 500 and in a raised hand's
message an ``internal_error``; a program printing a NUL byte left its run "running" for ever
("recording it failed")."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from server.courses.importer import import_course
from server.store import Store
from tests.conftest import Lesson
from tests.security.test_hostile_numbers import answer_to, events
from tests.server.processes import ServerProcess, prepare_lesson

NUL = "a%00b"


def nul_addresses(openapi: dict[str, Any], ids: dict[str, int]) -> list[tuple[str, str]]:
    """(method, address) for every API route: each name in its path, then each query
    parameter, holding ``%00``; ids filled with real ones."""
    out = []
    for template, operations in openapi["paths"].items():
        for method, operation in operations.items():
            params = operation.get("parameters", [])
            path = re.sub(r"{(\w+)}", lambda m: str(ids.get(m.group(1), NUL)), template)
            if "%00" in path:
                out.append((method.upper(), path))
            clean = re.sub(r"{(\w+)}", lambda m: str(ids.get(m.group(1), "x")), template)
            for p in params:
                if p["in"] == "query":
                    out.append((method.upper(), f"{clean}?{p['name']}={NUL}"))
    return out


async def test_a_nul_in_an_address_or_a_form_is_refused_before_any_route(
    process: ServerProcess, database_url: str
) -> None:
    lesson = await prepare_lesson(database_url, process.url)
    ids = {
        "room_id": lesson.room_id,
        "classroom_id": lesson.classroom["id"],
        "user_id": lesson.alice.id,
    }
    async with httpx.AsyncClient(base_url=process.url, timeout=30) as http:
        openapi = (await http.get("/api/openapi.json")).json()
        addresses = nul_addresses(openapi, ids)
        names = [a for a in addresses if "?" not in a[1]]
        assert len(names) >= 10, names  # runs, exercises, demos, assets, hints, …
        pages = [
            ("GET", f"/rooms/{lesson.room_id}?tab={NUL}"),
            ("GET", f"/lti/login?iss={NUL}&login_hint=x"),
            ("POST", f"/lti/launch?state={NUL}"),
            ("GET", f"/{NUL}"),
        ]
        for who in (None, lesson.alice, lesson.teacher):
            headers = {"Origin": process.url}
            if who is not None:
                headers["Authorization"] = f"Bearer {who.token}"
            for method, address in addresses + pages:
                response = await http.request(method, address, headers=headers, json={})
                assert response.status_code == 400, (method, address, response.text[:200])
                assert response.json()["error"]["code"] == "invalid_address"
        # The LMS's forms (anybody may post them): refused as forms, not failed in the store.
        for path, form in (
            ("/lti/login", {"iss": "a\x00", "login_hint": "x", "target_link_uri": "http://x"}),
            ("/lti/launch", {"state": "a\x00", "id_token": "x.y.z"}),
        ):
            response = await http.post(path, data=form)
            assert response.status_code == 400, (path, response.text[:200])
            assert response.json()["error"]["code"] == "invalid_form"
        # The same routes with ordinary names answer as before.
        alice = {"Authorization": f"Bearer {lesson.alice.token}"}
        assert (await http.get("/api/runs/nothing-here", headers=alice)).status_code == 404
        assert (await http.get(f"/api/rooms/{lesson.room_id}", headers=alice)).status_code == 200

    # Sockets: closed as the endpoints close a socket they refuse.
    for address in (
        f"/yjs/{lesson.room_id}/students/{lesson.alice.id}/{NUL}.py",
        f"/ws/rooms/{lesson.room_id}?token={lesson.alice.token}&x={NUL}",
    ):
        ws = await connect(process.ws_url + address)
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (
            1008,
            "the address holds a NUL byte (%00)",
        )
    assert not process.saw("Traceback"), "\n".join(process.log[-80:])


async def test_a_nul_in_a_students_text_is_refused_and_the_room_goes_on(
    process: ServerProcess, database_url: str
) -> None:
    lesson = await prepare_lesson(database_url, process.url)
    alice = {"Authorization": f"Bearer {lesson.alice.token}"}
    doc = f"students/{lesson.alice.id}/main.py"
    async with httpx.AsyncClient(base_url=process.url, timeout=30) as http:
        for path, body in (
            (f"/api/rooms/{lesson.room_id}/comments", {"doc": doc, "body": "x\x00", "line": 1}),
            ("/api/join", {"join_code": lesson.classroom["join_code"], "name": "Eve\x00"}),
        ):
            response = await http.post(path, headers=alice, json=body)
            assert response.status_code == 400, (path, response.text)
            assert response.json()["error"]["code"] == "invalid_json"
            assert "NUL" in response.json()["error"]["message"]
        response = await http.post(
            f"/api/rooms/{lesson.room_id}/comments",
            headers=alice,
            json={"doc": doc, "body": "fine", "line": 1},
        )
        assert response.status_code in (200, 201), response.text

    ws = await events(process, lesson, lesson.alice.token)
    teacher = await events(process, lesson, lesson.teacher.token)
    raw = json.dumps({"type": "hand.raise", "message": "help\x00"})
    assert [e["code"] for e in await answer_to(ws, raw)] == ["invalid_json"]
    await ws.send(json.dumps({"type": "hand.raise", "message": "help"}))
    while True:
        event = json.loads(await asyncio.wait_for(teacher.recv(), 10))
        if event["type"].startswith("hand."):
            break
    for socket in (ws, teacher):
        await socket.close()
    assert not process.saw("Traceback"), "\n".join(process.log[-80:])


@pytest.mark.bwrap
async def test_a_program_writing_nul_is_streamed_as_written_and_recorded(
    process: ServerProcess, database_url: str
) -> None:
    lesson: Lesson = await prepare_lesson(database_url, process.url)
    ws = await events(process, lesson, lesson.alice.token)
    program = "import sys\nsys.stdout.write('a\\0b\\n')\nsys.stderr.write('\\0')\n"
    await ws.send(
        json.dumps({"type": "run.start", "language": "python", "files": {"main.py": program}})
    )
    streamed = ""
    while True:
        event = json.loads(await asyncio.wait_for(ws.recv(), 60))
        assert event["type"] != "error", event
        if event["type"] == "run.output" and event["stream"] == "stdout":
            streamed += event["data"]
        if event["type"] == "run.finished":
            run_id, status = event["run_id"], event["status"]
            break
    await ws.close()
    assert status == "ok"
    assert streamed == "a\x00b\n"  # the room sees what the program wrote
    async with httpx.AsyncClient(base_url=process.url, timeout=30) as http:
        alice = {"Authorization": f"Bearer {lesson.alice.token}"}
        run = (await http.get(f"/api/runs/{run_id}", headers=alice)).json()
        listed = (await http.get(f"/api/rooms/{lesson.room_id}/runs", headers=alice)).json()
    assert (run["state"], run["status"]) == ("finished", "ok")
    assert (run["stdout"], run["stderr"]) == ("a\ufffdb\n", "\ufffd")
    assert [r["state"] for r in listed["runs"]] == ["finished"]
    assert not process.saw("recording it failed"), "\n".join(process.log[-80:])


EXERCISE = """
id = "echo"
title = "Say hi"
language = "python"
starter = { "main.py" = "" }

[[tests]]
kind = "io"
name = "says-hi"
expected = "hi\\n"

[[tests]]
kind = "value"
name = "doubles"
function = "f"
args = [1]
expected = 2
"""
# Each reaches the stored grade: a NUL on stderr (the attempt's error line), a NUL in a raised
# message, and half a surrogate pair in one (the value runner's JSON writes "\\ud800").
SUBMISSIONS = (
    "import sys\nsys.stderr.write('NameError: a\\0b\\n')\n"
    "def f(n):\n    raise NameError('bad\\0x')\nsys.exit(1)\n",
    "def f(n):\n    raise ValueError('bad\\ud800x')\nprint('hi')\n",
)


@pytest.mark.bwrap
async def test_a_submission_writing_nul_or_half_a_surrogate_is_graded_stored_and_listed(
    process: ServerProcess, database_url: str, tmp_path: Path
) -> None:
    """Before: on PostgreSQL the cockpit could not record the attempt ("recording submission
    failed"), and on both databases the room's submissions list was a 500 for its teacher and
    its students once one grade held half a surrogate pair."""
    lesson = await prepare_lesson(database_url, process.url)
    folder = tmp_path / "course" / "exercises"
    folder.mkdir(parents=True)
    (folder / "echo.toml").write_text(EXERCISE)
    store = Store(database_url)
    try:
        await import_course(store, lesson.classroom["id"], folder.parent)
    finally:
        await store.close()
    ws = await events(process, lesson, lesson.alice.token)
    for code in SUBMISSIONS:
        await ws.send(
            json.dumps({"type": "submit", "exercise_id": "echo", "files": {"main.py": code}})
        )
        while True:
            event = json.loads(await asyncio.wait_for(ws.recv(), 120))
            assert event["type"] != "error", event
            if event["type"] == "grade.result":
                assert event["submission"]["status"] == "graded"
                break
    await ws.close()

    async with httpx.AsyncClient(base_url=process.url, timeout=30) as http:
        for who in (lesson.teacher, lesson.alice):
            headers = {"Authorization": f"Bearer {who.token}"}
            response = await http.get(f"/api/rooms/{lesson.room_id}/submissions", headers=headers)
            assert response.status_code == 200, response.text[:300]
            outputs = [
                test.get("output", "")
                for row in response.json()["submissions"]
                for test in row["results"]["tests"]
            ]
            assert any("bad\ufffdx" in output for output in outputs), outputs
        teacher = {"Authorization": f"Bearer {lesson.teacher.token}"}
        analytics = await http.get(
            f"/api/classrooms/{lesson.classroom['id']}/exercises/echo/analytics", headers=teacher
        )
        assert analytics.status_code == 200, analytics.text[:300]
        assert "NameError: a\ufffdb" in analytics.text  # the cockpit recorded the attempt
    assert not process.saw("failed"), "\n".join(process.log[-80:])
    assert not process.saw("Traceback"), "\n".join(process.log[-80:])
