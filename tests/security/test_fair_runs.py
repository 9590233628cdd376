"""One student cannot fill the run queue: a per-user bound on queued plus running runs, room
kept for grading, and a grading run refused for capacity does not count as an attempt."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlmodel import select

from server.models import Submission
from tests.conftest import LiveServer, make_lesson, make_settings, serve_in_thread
from tests.server.grading.test_submissions import RIGHT, load, write_course
from tests.support.events import EventClient

pytestmark = pytest.mark.bwrap

DATABASES = ("sqlite",)
SLEEPER = {"language": "python", "code": "import time\ntime.sleep(60)\n"}


def served(tmp_path: Path, database_url: str, **overrides: str) -> Iterator[LiveServer]:
    yield from serve_in_thread(make_settings(tmp_path, database_url, **overrides))


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[LiveServer]:
    # 2 running + 10 waiting = 12; 3 per user; 3 of the 12 kept for grading.
    yield from served(
        tmp_path, database_url, run_concurrency="2", run_queue_size="10", max_runs_per_user="3",
        grading_reserved_runs="3",
    )  # fmt: skip


async def cancel_all(server: LiveServer, run_ids: list[str]) -> None:
    """On the server's loop: a run's cancel awaits its task, which lives there."""
    runs = server.state.runs

    async def cancel() -> None:
        for run_id in run_ids:
            live = runs.live(run_id)
            if live is not None:
                await live.cancel()

    await server.on_server_loop(cancel())


async def test_one_student_cannot_fill_the_queue(server: LiveServer, tmp_path: Path) -> None:
    lesson = await make_lesson(server.url, server.settings, server.state)
    await load(server, lesson, write_course(tmp_path / "course"))
    url = f"/api/rooms/{lesson.room_id}/runs"
    started: list[str] = []
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
        for _ in range(3):
            response = await http.post(url, json=SLEEPER, headers=lesson.alice.headers)
            assert response.status_code == 202
            started.append(response.json()["id"])
        fourth = await http.post(url, json=SLEEPER, headers=lesson.alice.headers)
        assert fourth.status_code == 429 and fourth.json()["error"]["code"] == "too_many_runs"
        # Others still run: Bob and the teacher fill up to the interactive share (9 of 12).
        for who in (lesson.bob, lesson.teacher):
            for _ in range(3):
                response = await http.post(url, json=SLEEPER, headers=who.headers)
                assert response.status_code == 202, response.text
                started.append(response.json()["id"])
        from tests.conftest import join_as

        carol = await join_as(http, lesson.classroom["join_code"], "Carol")
        full = await http.post(url, json=SLEEPER, headers=carol.headers)
        assert full.status_code == 429 and full.json()["error"]["code"] == "queue_full"
        # Grading still has its reserved room: Carol's submission is graded.
        graded = await http.post(
            f"/api/rooms/{lesson.room_id}/exercises/double/submissions",
            json={"files": {"main.py": RIGHT}},
            headers=carol.headers,
            timeout=120,
        )
        await cancel_all(server, started)
    assert graded.status_code in (200, 201), graded.text
    assert graded.json()["status"] == "graded" and graded.json()["score"] > 0


@pytest.fixture
def tiny(tmp_path: Path, database_url: str) -> Iterator[LiveServer]:
    # 1 running + 2 waiting, none kept for grading: three sleepers leave no place for the
    # submission's run (its three I/O tests are one run, sandbox/grading/grader.py).
    yield from served(
        tmp_path, database_url, run_concurrency="1", run_queue_size="2",
        grading_reserved_runs="0",
    )  # fmt: skip


async def test_a_grading_run_refused_for_capacity_is_not_an_attempt(
    tiny: LiveServer, tmp_path: Path
) -> None:
    server = tiny
    lesson = await make_lesson(server.url, server.settings, server.state)
    await load(server, lesson, write_course(tmp_path / "course"))
    submit = f"/api/rooms/{lesson.room_id}/exercises/double/submissions"
    async with await EventClient.open(
        server.ws_url, lesson.room_id, lesson.teacher.token
    ) as teacher:
        await teacher.expect("room.snapshot")
        started = []
        for ref in (1, 2, 3):  # one running, two waiting: the queue is full
            await teacher.send(
                {
                    "type": "run.start",
                    "language": "python",
                    "files": {"main.py": SLEEPER["code"]},
                    "ref": ref,
                }
            )
            started.append((await teacher.expect("run.started", ref=ref))["run_id"])
        async with httpx.AsyncClient(base_url=server.url, timeout=120) as http:
            refused = await http.post(
                submit, json={"files": {"main.py": RIGHT}}, headers=lesson.alice.headers
            )
            assert refused.status_code == 429 and refused.json()["error"]["code"] == "sandbox_busy"
            async with server.state.store.session() as session:
                rows = (await session.exec(select(Submission))).all()
            assert rows == []  # not stored as an error attempt
            for run_id in started:
                await teacher.send({"type": "run.cancel", "run_id": run_id})
            finished: set[str] = set()
            while finished != set(started):  # in whichever order they end
                finished.add((await teacher.expect("run.finished", timeout=30))["run_id"])
            graded = await http.post(
                submit, json={"files": {"main.py": RIGHT}}, headers=lesson.alice.headers
            )
    assert graded.status_code in (200, 201), graded.text
    body = graded.json()
    assert body["attempt"] == 1 and body["status"] == "graded"
