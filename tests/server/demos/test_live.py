"""Instructor-led demos over real room sockets on one server: steps, followers, late joiners,
the ``demo`` document (read by a real Yjs client), quizzes and their points, check runs,
auto-advance and the timeline API. Two processes sharing a presenter: test_live_processes.py."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select

from server.demos.live import instant
from server.models import QuizAnswer, XpEvent
from server.store import Store
from tests.conftest import Lesson, LiveServer
from tests.node.harness import YjsHarness
from tests.server.demos.course import CODE, import_into, write_course
from tests.services import require
from tests.support.events import close_all, opened

DATABASES = ("sqlite", "postgres")

START = 1_800_000_000.0


class FakeClock:
    """The demos component's clock, moved by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


@pytest.fixture
async def course(server: LiveServer, live_lesson: Lesson, tmp_path: Path) -> Lesson:
    folder = write_course(tmp_path / "course")
    await import_into(server.settings.database_url, live_lesson.classroom["id"], folder)
    return live_lesson


async def test_steps_reach_every_follower_in_order(server: LiveServer, course: Lesson) -> None:
    room = course.room_id
    teacher, first = await opened(server.ws_url, room, course.teacher.token)
    alice, _ = await opened(server.ws_url, room, course.alice.token)
    try:
        assert first["demo"] is None
        async with httpx.AsyncClient(base_url=server.url) as http:
            none = await http.get(
                f"/api/rooms/{room}/demo/timeline", headers=course.teacher.headers
            )
        assert none.json() == {"session": None, "events": []}
        await teacher.send({"type": "demo.start", "demo_id": "nope"})
        assert (await teacher.expect("error"))["code"] == "unknown_demo"

        await teacher.send({"type": "demo.start", "demo_id": "tour"})
        step = await alice.expect("demo.step")
        assert (step["index"], step["total"], step["title"]) == (0, 5, "A short tour")
        assert step["followers"] == 1 and step["students"] == 1
        await teacher.send({"type": "demo.start", "demo_id": "tour"})
        assert (await teacher.expect("error"))["code"] == "demo_refused"

        await alice.send({"type": "demo.next"})
        assert (await alice.expect("error"))["code"] == "forbidden"

        for command in (
            {"type": "demo.next"},
            {"type": "demo.goto", "step": 2},
            {"type": "demo.prev"},
        ):
            await teacher.send(command)
        seen = [(await alice.expect("demo.step"))["index"] for _ in range(3)]
        assert seen == [1, 2, 1]
        await teacher.send({"type": "demo.goto", "step": 9})
        assert "out of range" in (await teacher.expect("error"))["message"]

        # A late joiner lands on the step on screen at once.
        bob, snapshot = await opened(server.ws_url, room, course.bob.token)
        demo = snapshot["demo"]
        assert demo["index"] == 1 and demo["step"]["id"] == "code" and demo["following"] is True
        assert demo["step"]["content"]["files"][0]["text"] == CODE
        assert (await teacher.expect("demo.followers"))["followers"] == 2

        # Detached: the room moves on without Alice; following brings her to where it is.
        await alice.send({"type": "demo.detach"})
        followers = await teacher.expect("demo.followers")
        assert (followers["followers"], followers["detached"]) == (1, [course.alice.id])
        await teacher.send({"type": "demo.next"})
        assert (await bob.expect("demo.step"))["index"] == 2
        # Detached clients still hear the room's steps (and stay where they are).
        moved = await alice.expect("demo.step")
        assert (moved["index"], moved["followers"]) == (2, 1)
        second, snapshot = await opened(server.ws_url, room, course.alice.token)
        assert snapshot["demo"]["following"] is False
        await second.close()
        await alice.send({"type": "demo.follow"})
        back = await alice.expect("demo.step")
        assert (back["index"], back["followers"]) == (2, 2)
        assert (await teacher.expect("demo.followers"))["detached"] == []

        await teacher.send({"type": "demo.stop"})
        assert (await bob.expect("demo.stopped"))["demo_id"] == "tour"
        await bob.close()
    finally:
        await close_all(teacher, alice)

    async with httpx.AsyncClient(base_url=server.url) as http:
        path = f"/api/rooms/{room}/demo/timeline"
        denied = await http.get(path, headers=course.alice.headers)
        assert denied.status_code == 403
        body = (await http.get(path, headers=course.teacher.headers)).json()
    assert body["session"]["demo_id"] == "tour" and body["session"]["ended_at"] is not None
    room_moves = [(e["kind"], e["step"]) for e in body["events"] if e["user_id"] is None]
    assert room_moves == [
        ("started", 0),
        ("step", 0),
        ("step", 1),
        ("step", 2),
        ("step", 1),
        ("step", 2),
        ("stopped", 2),
    ]
    alice_moves = [e["kind"] for e in body["events"] if e["user_id"] == course.alice.id]
    assert alice_moves[:1] == ["joined"] and "detached" in alice_moves
    assert alice_moves.index("detached") < alice_moves.index("followed")


async def test_demo_document_shows_the_code_step(server: LiveServer, course: Lesson) -> None:
    require("node")
    room = course.room_id
    teacher, _ = await opened(server.ws_url, room, course.teacher.token)
    try:
        await teacher.send({"type": "demo.start", "demo_id": "tour"})
        await teacher.expect("demo.step", index=0)
        async with YjsHarness() as yjs:
            doc = f"{room}/demo"
            reply = await yjs.call(
                "open",
                client="alice",
                url=f"{server.ws_url}/yjs",
                doc=doc,
                token=course.alice.token,
            )
            assert reply["synced"], reply
            await teacher.send({"type": "demo.next"})
            await teacher.expect("demo.step", index=1)
            shown = await yjs.call("wait_text", client="alice", equals=CODE, timeout_ms=10000)
            assert shown["text"] == CODE
            # Leaving the code step leaves the document as it was; coming back writes no copy.
            await teacher.send({"type": "demo.next"})
            await teacher.expect("demo.step", index=2)
            await teacher.send({"type": "demo.prev"})
            await teacher.expect("demo.step", index=1)
            assert (await yjs.call("text", client="alice"))["text"] == CODE
    finally:
        await teacher.close()


async def test_quiz_counts_each_student_once_and_scores(server: LiveServer, course: Lesson) -> None:
    room = course.room_id
    teacher, _ = await opened(server.ws_url, room, course.teacher.token)
    alice, _ = await opened(server.ws_url, room, course.alice.token)
    bob, _ = await opened(server.ws_url, room, course.bob.token)
    clock = FakeClock(START)
    server.state.demos.now = clock
    try:
        await teacher.send({"type": "demo.start", "demo_id": "tour"})
        await teacher.send({"type": "demo.goto", "step": 3})
        opened_quiz = await bob.expect("quiz.opened")
        assert opened_quiz["choices"] == ["A", "B"] and "correct" not in str(opened_quiz)

        clock.now = START + 10
        await alice.send({"type": "quiz.answer", "answer": 0})
        assert (await alice.expect("quiz.answered"))["answer"] == 0
        assert (await teacher.expect("quiz.tally"))["counts"] == [1, 0]
        # She changes her mind 30 s after the quiz opened: that is the time that scores.
        clock.now = START + 30
        await alice.send({"type": "quiz.answer", "answer": 1})
        tally = await teacher.expect("quiz.tally")
        assert (tally["answers"], tally["counts"]) == (1, [0, 1])
        await bob.send({"type": "quiz.answer", "step": 3, "answer": 0})
        tally = await teacher.expect("quiz.tally")
        assert (tally["answers"], tally["counts"]) == (2, [1, 1])
        await teacher.send({"type": "quiz.answer", "answer": 1})
        assert (await teacher.expect("error"))["code"] == "forbidden"
        await bob.send({"type": "quiz.answer", "answer": 5})
        assert (await bob.expect("error"))["code"] == "demo_refused"

        await teacher.send({"type": "quiz.close"})
        closed = await bob.expect("quiz.closed")
        assert closed["answer"] == 1 and closed["tally"]["answers"] == 2
        mine = await alice.expect("quiz.result")
        assert (mine["correct"], mine["points"]) == (True, 75)  # 100 * (1 - 30 / (2 * 60))
        assert (await bob.expect("quiz.result"))["points"] == 0
        board = await bob.expect("leaderboard.update")
        assert board["entries"][0]["user_id"] == course.alice.id
        assert board["entries"][0]["points"] == mine["points"]
        xp = await alice.expect("xp.awarded")
        assert xp["amount"] == mine["points"]

        await bob.send({"type": "quiz.answer", "answer": 1})
        refused = await bob.expect("error")
        assert refused["code"] == "demo_refused" and "closed" in refused["message"]
    finally:
        await close_all(teacher, alice, bob)

    store = Store(server.settings.database_url)
    try:
        async with store.session() as session:
            answers = (await session.exec(select(QuizAnswer))).all()
            xp_rows = (await session.exec(select(XpEvent).where(XpEvent.reason == "quiz"))).all()
    finally:
        await store.close()
    assert sorted((a.user_id, a.answer, a.correct) for a in answers) == sorted(
        [(course.alice.id, 1, True), (course.bob.id, 0, False)]
    )
    assert [(x.user_id, x.amount, x.room_id) for x in xp_rows] == [(course.alice.id, 75, room)]
    assert {_utc(a.answered_at) for a in answers} == {instant(START + 30)}
    assert _utc(xp_rows[0].created_at) == instant(START + 30)


@pytest.mark.bwrap
async def test_only_passing_check_runs_count(server: LiveServer, course: Lesson) -> None:
    room = course.room_id
    teacher, _ = await opened(server.ws_url, room, course.teacher.token)
    alice, _ = await opened(server.ws_url, room, course.alice.token)
    try:
        await teacher.send({"type": "demo.start", "demo_id": "tour"})
        await teacher.send({"type": "demo.goto", "step": 2})
        await alice.expect("demo.step", index=2)

        async def check(source: str) -> dict[str, Any]:
            await alice.send(
                {
                    "type": "run.start",
                    "language": "python",
                    "files": {"main.py": source},
                    "stdin": "",
                    "demo_step": 2,
                }
            )
            return await alice.expect("demo.check", timeout=30)

        assert (await check("print(41)\n"))["passed"] is False
        assert (await check("print(42)\n"))["passed"] is True
        validation = await teacher.expect("demo.validation")
        assert (validation["completed"], validation["count"]) == ([course.alice.id], 1)
        # The failing run announced nothing: the first validation came after the second run.
        kinds = [e["type"] for e in teacher.seen]
        assert kinds.index("demo.validation") > max(
            i for i, kind in enumerate(kinds) if kind == "run.started"
        )

        # A step without a check: the runner is told, nothing is recorded.
        await alice.send(
            {
                "type": "run.start",
                "language": "python",
                "files": {"main.py": "print(1)"},
                "stdin": "",
                "demo_step": 0,
                "ref": "c",
            }
        )
        refused = await alice.expect("error", timeout=30)
        assert (refused["code"], refused["ref"]) == ("demo_refused", "c")
    finally:
        await close_all(teacher, alice)


async def test_auto_advance_pauses_and_moves_on(server: LiveServer, course: Lesson) -> None:
    room = course.room_id
    teacher, _ = await opened(server.ws_url, room, course.teacher.token)
    alice, _ = await opened(server.ws_url, room, course.alice.token)
    try:
        await teacher.send({"type": "demo.start", "demo_id": "quick"})
        assert (await alice.expect("demo.step"))["index"] == 0
        paused = await alice.expect("demo.paused", timeout=5)
        assert paused["index"] == 0 and paused["elapsed"] == pytest.approx(0.2)
        await teacher.send({"type": "demo.resume"})
        assert (await alice.expect("demo.resumed"))["remaining"] == pytest.approx(0.2, abs=0.05)
        assert (await alice.expect("demo.step", timeout=5))["index"] == 1
        last = await alice.expect("demo.step", timeout=5)
        assert last["index"] == 2 and last["timing"]["auto_advance"] is False
        await teacher.send({"type": "demo.resume"})
        assert "not paused" in (await teacher.expect("error"))["message"]
    finally:
        await close_all(teacher, alice)


# -- two processes --------------------------------------------------------------------------
