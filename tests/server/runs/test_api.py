"""The runs HTTP API on the real app: local sandbox backend, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from server.app import create_app
from server.models.runs import Run
from server.runs.component import Runs
from tests.conftest import (
    Account,
    Lesson,
    LiveServer,
    create_instructor,
    join_as,
    make_settings,
    new_classroom,
    new_room,
    state_of,
)
from tests.support.events import EventClient

HELLO = {"language": "python", "code": "import sys\nprint('hi', sys.argv[1:])\n", "args": ["x"]}
SLEEPER = {"language": "python", "code": "import time\nprint('zz', flush=True)\ntime.sleep(60)\n"}


def runs_of(app: Starlette) -> Runs:
    runs: Runs = state_of(app).runs
    return runs


async def start(http: httpx.AsyncClient, room_id: int, who: Account, body: dict[str, Any]) -> str:
    response = await http.post(f"/api/rooms/{room_id}/runs", json=body, headers=who.headers)
    assert response.status_code == 202, response.text
    data = response.json()
    assert data["status"] in ("queued", "running", "finished")
    run_id: str = data["id"]
    return run_id


async def settle(app: Starlette, run_id: str) -> None:
    """Wait for the run to end and its row to be complete."""
    runs = runs_of(app)
    async with asyncio.timeout(60):
        live = runs.live(run_id)
        if live is not None:
            await live.wait()
        await runs.records.recorded(run_id)


@pytest.mark.bwrap
async def test_run_and_read_it_back(
    app: Starlette, client: httpx.AsyncClient, lesson: Lesson
) -> None:
    run_id = await start(client, lesson.room_id, lesson.alice, HELLO)
    await settle(app, run_id)
    response = await client.get(f"/api/runs/{run_id}", headers=lesson.alice.headers)
    assert response.status_code == 200, response.text
    run = response.json()
    assert run["state"] == "finished"
    assert run["status"] == "ok"
    assert run["exit_code"] == 0
    assert run["stdout"] == "hi ['x']\n"
    assert run["language"] == "python"
    assert run["user_id"] == lesson.alice.id
    assert run["room_id"] == lesson.room_id
    assert run["time_ms"] > 0
    assert run["finished_at"] is not None
    async with state_of(app).store.session() as session:
        row = await session.get(Run, run_id)
    assert row is not None and row.status == "ok" and row.stdout == "hi ['x']\n"


@pytest.mark.bwrap
async def test_files_and_stdin(app: Starlette, client: httpx.AsyncClient, lesson: Lesson) -> None:
    body = {
        "language": "python",
        "files": {
            "main.py": "from util import shout\nprint(shout(input()))\n",
            "util.py": "def shout(s):\n    return s.upper()\n",
        },
        "stdin": "quiet\n",
    }
    run_id = await start(client, lesson.room_id, lesson.bob, body)
    await settle(app, run_id)
    run = (await client.get(f"/api/runs/{run_id}", headers=lesson.bob.headers)).json()
    assert run["stdout"] == "QUIET\n"


@pytest.mark.bwrap
async def test_a_run_is_recorded_when_queued(
    app: Starlette, client: httpx.AsyncClient, lesson: Lesson
) -> None:
    run_id = await start(client, lesson.room_id, lesson.alice, SLEEPER)
    response = await client.get(f"/api/runs/{run_id}", headers=lesson.alice.headers)
    assert response.status_code == 200
    assert response.json()["state"] in ("queued", "running")
    assert response.json()["status"] is None
    live = runs_of(app).live(run_id)
    assert live is not None
    await live.cancel()
    await settle(app, run_id)
    run = (await client.get(f"/api/runs/{run_id}", headers=lesson.alice.headers)).json()
    assert (run["state"], run["status"]) == ("finished", "cancelled")


async def test_who_may_see_a_run(app: Starlette, client: httpx.AsyncClient, lesson: Lesson) -> None:
    run_id = await start(client, lesson.room_id, lesson.alice, HELLO)
    await settle(app, run_id)
    url = f"/api/runs/{run_id}"
    assert (await client.get(url, headers=lesson.alice.headers)).status_code == 200
    assert (await client.get(url, headers=lesson.teacher.headers)).status_code == 200
    other = await client.get(url, headers=lesson.bob.headers)
    assert other.status_code == 403
    assert other.json()["error"]["code"] == "not_yours"
    # Bob made an assistant: now he sees every run of the room.
    promote = await client.put(
        f"/api/classrooms/{lesson.classroom['id']}/members",
        json={"user_id": lesson.bob.id, "role": "assistant"},
        headers=lesson.teacher.headers,
    )
    assert promote.status_code == 200, promote.text
    assert (await client.get(url, headers=lesson.bob.headers)).status_code == 200
    # Someone from another classroom learns nothing, not even that the run exists.
    state = state_of(app)
    stranger_teacher = await create_instructor(state.store, state, email="other@example.org")
    elsewhere = await new_classroom(client, stranger_teacher, "Elsewhere")
    eve = await join_as(client, elsewhere["join_code"], "Eve")
    for outsider in (stranger_teacher, eve):
        response = await client.get(url, headers=outsider.headers)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "unknown_run"
    assert (await client.get("/api/runs/nope", headers=lesson.alice.headers)).status_code == 404
    assert (await client.get(url)).status_code == 401


async def test_who_may_run_in_a_room(
    app: Starlette, client: httpx.AsyncClient, lesson: Lesson
) -> None:
    state = state_of(app)
    stranger = await create_instructor(state.store, state, email="s@example.org")
    response = await client.post(
        f"/api/rooms/{lesson.room_id}/runs", json=HELLO, headers=stranger.headers
    )
    assert response.status_code == 403
    response = await client.post("/api/rooms/999999/runs", json=HELLO, headers=lesson.alice.headers)
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"language": "python"}, "invalid_body"),
        ({"language": "python", "code": "1", "files": {"main.py": "1"}}, "invalid_body"),
        ({"language": "cobol", "code": "1"}, "unknown_language"),
        ({"language": "python", "files": {"../up.py": "1"}}, "invalid_request"),
        ({"language": "python", "files": {}}, "invalid_request"),
        ({"language": "python", "code": "1", "extra": True}, "invalid_body"),
        ({"language": "python", "code": 5}, "invalid_body"),
    ],
)
async def test_bad_bodies(
    client: httpx.AsyncClient, lesson: Lesson, body: dict[str, Any], code: str
) -> None:
    response = await client.post(
        f"/api/rooms/{lesson.room_id}/runs", json=body, headers=lesson.alice.headers
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == code


@pytest.mark.bwrap
async def test_metrics_count_runs(
    app: Starlette, client: httpx.AsyncClient, lesson: Lesson
) -> None:
    run_id = await start(
        client, lesson.room_id, lesson.alice, {"language": "python", "code": "raise SystemExit(3)"}
    )
    await settle(app, run_id)
    text = (await client.get("/metrics")).text
    assert 'classroom_runs_total{language="python",status="runtime_error"} 1.0' in text
    assert 'classroom_run_seconds_count{language="python"} 1.0' in text
    assert "classroom_run_queue_depth 0.0" in text


@pytest.fixture
async def narrow_app(tmp_path: Path, database_url: str) -> AsyncIterator[Starlette]:
    """One run at a time, one waiting."""
    settings = make_settings(tmp_path, database_url, run_concurrency="1", run_queue_size="1")
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.mark.bwrap
async def test_full_queue_answers_429(narrow_app: Starlette) -> None:
    app = narrow_app
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        state = state_of(app)
        teacher = await create_instructor(state.store, state)
        classroom = await new_classroom(http, teacher)
        room = await new_room(http, teacher, classroom["id"])
        first = await start(http, room["id"], teacher, SLEEPER)
        second = await start(http, room["id"], teacher, SLEEPER)
        response = await http.post(
            f"/api/rooms/{room['id']}/runs", json=SLEEPER, headers=teacher.headers
        )
        assert response.status_code == 429
        assert response.json()["error"] == {
            "code": "queue_full",
            "message": "run queue is full (1 waiting); try again shortly",
        }
        for run_id in (second, first):
            live = runs_of(app).live(run_id)
            assert live is not None
            await live.cancel()
            await settle(app, run_id)


@pytest.mark.bwrap
async def test_socket_runs_are_recorded_too(server: LiveServer, live_lesson: Lesson) -> None:
    alice = await EventClient.open(server.ws_url, live_lesson.room_id, live_lesson.alice.token)
    try:
        await alice.expect("room.snapshot")
        code = {"main.py": "print('from the socket')\n"}
        await alice.send({"type": "run.start", "language": "python", "files": code})
        run_id = (await alice.expect("run.started"))["run_id"]
        while (event := await alice.next(30))["type"] != "run.finished":
            pass
        assert event["run_id"] == run_id
    finally:
        await alice.close()
    async with httpx.AsyncClient(base_url=server.url) as http:
        response = await http.get(f"/api/runs/{run_id}", headers=live_lesson.teacher.headers)
    assert response.status_code == 200, response.text
    run = response.json()
    assert (run["state"], run["status"], run["stdout"]) == ("finished", "ok", "from the socket\n")
    assert run["user_id"] == live_lesson.alice.id


@pytest.mark.bwrap
async def test_list_a_rooms_runs(app: Starlette, client: httpx.AsyncClient, lesson: Lesson) -> None:
    mine = await start(client, lesson.room_id, lesson.alice, HELLO)
    theirs = await start(client, lesson.room_id, lesson.bob, HELLO)
    for run_id in (mine, theirs):
        await settle(app, run_id)
    url = f"/api/rooms/{lesson.room_id}/runs"
    alice_sees = (await client.get(url, headers=lesson.alice.headers)).json()["runs"]
    assert [r["id"] for r in alice_sees] == [mine]
    assert alice_sees[0]["status"] == "ok"
    staff_sees = (await client.get(url, headers=lesson.teacher.headers)).json()["runs"]
    assert {r["id"] for r in staff_sees} == {mine, theirs}
    limited = await client.get(url + "?limit=1", headers=lesson.teacher.headers)
    assert len(limited.json()["runs"]) == 1
    bad = await client.get(url + "?limit=0", headers=lesson.teacher.headers)
    assert bad.status_code == 400
    state = state_of(app)
    stranger = await create_instructor(state.store, state, email="x@example.org")
    assert (await client.get(url, headers=stranger.headers)).status_code == 403


async def test_a_restart_settles_runs_left_unfinished(tmp_path: Path, database_url: str) -> None:
    settings = make_settings(tmp_path, database_url)
    first = create_app(settings)
    async with first.router.lifespan_context(first):
        transport = httpx.ASGITransport(app=first)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            state = state_of(first)
            teacher = await create_instructor(state.store, state)
            classroom = await new_classroom(http, teacher)
            room = await new_room(http, teacher, classroom["id"])
        # What a killed server leaves behind: a row that never got its result.
        async with state.store.session() as session:
            session.add(
                Run(
                    id="orphan",
                    room_id=room["id"],
                    user_id=teacher.id,
                    language="python",
                    state="running",
                )
            )
    second = create_app(settings)
    async with second.router.lifespan_context(second):
        store = state_of(second).store
        async with store.session() as session:
            row = await session.get(Run, "orphan")
    assert row is not None
    assert (row.state, row.status) == ("finished", "internal_error")
    assert row.message == "the server stopped before the run ended"
