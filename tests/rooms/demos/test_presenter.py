from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from rooms.demos.exceptions import PresentationError, QuizError
from rooms.demos.model import DemoDefinition
from rooms.demos.presenter import INSTRUCTORS, ROOM, Event, Presenter
from rooms.demos.session import PresentationState
from rooms.demos.timeline import TimelineKind, positions
from rooms.events import Audience
from rooms.events import only as to_user
from sandbox.model import RunResult, RunStatus

T0 = 1_000.0
TEACHER, ANA, BEN, CAL = 1, 10, 11, 12


def who(audience: Audience) -> Any:
    """ROOM or INSTRUCTORS as they are, one user's audience as the user id."""
    if audience in (ROOM, INSTRUCTORS):
        return audience
    (user,) = audience.users
    return user


def kinds(events: list[Event]) -> list[tuple[Any, str]]:
    return [(who(to), message["type"]) for to, message in events]


def only(events: list[Event], kind: str, to: Any = ROOM) -> dict[str, Any]:
    found = [m for r, m in events if m["type"] == kind and who(r) == to]
    assert len(found) == 1, kinds(events)
    return found[0]


@pytest.fixture
def room(demo: DemoDefinition) -> Presenter:
    presenter = Presenter()
    presenter.join(TEACHER, T0, instructor=True)
    presenter.join(ANA, T0)
    presenter.join(BEN, T0)
    return presenter


def test_start_shows_the_first_step_to_the_room(room: Presenter, demo: DemoDefinition) -> None:
    events = room.start(demo, T0)
    step = only(events, "demo.step")
    assert room.state is PresentationState.PRESENTING
    assert (step["demo_id"], step["index"], step["total"]) == ("walkthrough", 0, 5)
    assert step["step"]["content"]["text"] == "Hello."
    assert (step["followers"], step["students"]) == (2, 2)
    assert step["timing"] == {
        "auto_advance": True,
        "duration": 30.0,
        "remaining": 30.0,
        "paused": False,
    }
    with pytest.raises(PresentationError, match="already running here; stop it first"):
        room.start(demo, T0)


def test_moves_and_the_illegal_ones(room: Presenter, demo: DemoDefinition) -> None:
    with pytest.raises(PresentationError, match="no demo is running"):
        room.next(T0)
    room.start(demo, T0)
    with pytest.raises(PresentationError, match="already at the first step"):
        room.prev(T0)
    assert only(room.next(T0 + 1), "demo.step")["index"] == 1
    code = only(room.goto(1, T0 + 2), "demo.step")
    assert code["step"]["content"]["files"] == [
        {"path": "main.py", "text": "print(1)\nprint(2)\n", "highlight": [[2, 2]]}
    ]
    assert only(room.prev(T0 + 3), "demo.step")["index"] == 0
    assert only(room.goto(4, T0 + 4), "demo.step")["index"] == 4
    with pytest.raises(PresentationError, match="already at the last step"):
        room.next(T0 + 5)
    for bad in (5, -1):
        with pytest.raises(
            PresentationError, match=rf"step {bad} is out of range; .* steps 0\.\.4"
        ):
            room.goto(bad, T0)
    for hostile in ("2", True, None, 1.0):
        with pytest.raises(PresentationError, match="must be a step index"):
            room.goto(hostile, T0)
    assert room.index == 4, "a refused move must not move"


def test_stop_then_nothing_moves_until_a_new_start(room: Presenter, demo: DemoDefinition) -> None:
    room.start(demo, T0)
    room.goto(3, T0 + 1)
    events = room.stop(T0 + 2)
    assert kinds(events)[-1] == (ROOM, "demo.stopped")
    assert only(events, "demo.stopped") == {
        "type": "demo.stopped",
        "demo_id": "walkthrough",
        "at": T0 + 2,
    }
    assert room.state is PresentationState.STOPPED and room.demo is None
    for act in (room.next, room.prev, room.resume, room.stop):
        with pytest.raises(PresentationError, match="no demo is running"):
            act(T0 + 3)
    assert room.tick(T0 + 3) == [] and room.next_deadline() is None, "a late timer is harmless"
    with pytest.raises(PresentationError):
        room.goto(0, T0 + 3)
    with pytest.raises(PresentationError):
        room.detach(ANA, T0 + 3)
    assert room.snapshot(ANA, T0 + 3) is None
    assert only(room.start(demo, T0 + 4), "demo.step")["index"] == 0


def test_detach_and_follow(room: Presenter, demo: DemoDefinition) -> None:
    room.start(demo, T0)
    events = room.detach(ANA, T0 + 1)
    assert events == [
        (INSTRUCTORS, {"type": "demo.followers", "followers": 1, "students": 2, "detached": [ANA]})
    ]
    assert room.detach(ANA, T0 + 1) == [], "detaching twice changes nothing"
    assert only(room.next(T0 + 2), "demo.step")["followers"] == 1
    assert room.snapshot(ANA, T0 + 2)["following"] is False  # type: ignore[index]
    events = room.follow(ANA, T0 + 3)
    assert only(events, "demo.followers", INSTRUCTORS)["followers"] == 2
    assert only(events, "demo.step", ANA)["index"] == 1, "a student who follows again jumps"
    assert room.follow(ANA, T0 + 4) == []
    with pytest.raises(PresentationError, match="only a student in the room can detach"):
        room.detach(TEACHER, T0)


def test_followers_count_people_not_connections(room: Presenter, demo: DemoDefinition) -> None:
    room.start(demo, T0)
    assert room.join(ANA, T0 + 1) == [], "a second tab of a present student"
    assert room.leave(ANA, T0 + 2) == []
    assert room.followers == 2
    events = room.leave(ANA, T0 + 3)
    assert only(events, "demo.followers", INSTRUCTORS)["students"] == 1
    assert room.followers == 1
    events = room.join(CAL, T0 + 4)
    assert only(events, "demo.followers", INSTRUCTORS)["followers"] == 2


def test_a_late_joiner_gets_the_current_step(room: Presenter, demo: DemoDefinition) -> None:
    assert room.snapshot(ANA, T0) is None
    room.start(demo, T0)
    room.goto(2, T0 + 5)
    room.answer(ANA, 2, 1, T0 + 6)
    room.detach(BEN, T0 + 7)
    room.join(CAL, T0 + 8)
    late = room.snapshot(CAL, T0 + 8)
    assert late is not None
    assert (late["type"], late["index"], late["following"]) == ("demo.step", 2, True)
    assert late["step"]["content"]["question"] == "Two plus two?"
    assert "correct" not in str(late["step"])
    assert late["quiz"]["state"] == "open" and late["quiz"]["mine"] is None
    assert "tally" not in late["quiz"], "students see the tally only once revealed"
    assert room.snapshot(ANA, T0 + 8)["quiz"]["mine"] == 1  # type: ignore[index]
    teacher = room.snapshot(TEACHER, T0 + 8)
    assert teacher is not None and teacher["detached"] == [BEN] and teacher["completed_by"] == []


def test_validation_counts_only_passing_runs(room: Presenter, demo: DemoDefinition) -> None:
    room.start(demo, T0)
    room.goto(1, T0)
    check = room.check()
    assert check is not None and check.request("print(3)").files == {"main.py": "print(3)"}
    wrong = RunResult(RunStatus.OK, exit_code=0, stdout="2\n")
    crashed = RunResult(RunStatus.RUNTIME_ERROR, exit_code=1, stdout="3\n")
    right = RunResult(RunStatus.OK, exit_code=0, stdout="3\n")
    assert room.record_run(ANA, 1, wrong, T0 + 1) == [
        (to_user(ANA), {"type": "demo.check", "index": 1, "passed": False})
    ]
    assert kinds(room.record_run(ANA, 1, crashed, T0 + 2)) == [(ANA, "demo.check")]
    events = room.record_run(ANA, 1, right, T0 + 3)
    assert only(events, "demo.check", ANA)["passed"] is True
    assert only(events, "demo.validation", INSTRUCTORS) == {
        "type": "demo.validation",
        "index": 1,
        "step_id": "code",
        "completed": [ANA],
        "count": 1,
        "students": 2,
    }
    assert kinds(room.record_run(ANA, 1, right, T0 + 4)) == [(ANA, "demo.check")]
    assert (
        only(room.record_run(BEN, 1, right, T0 + 5), "demo.validation", INSTRUCTORS)["count"] == 2
    )
    with pytest.raises(PresentationError, match="step 0 has no validation"):
        room.record_run(ANA, 0, right, T0)
    assert room.snapshot(ANA, T0 + 6)["completed"] is True  # type: ignore[index]


def test_auto_advance_with_pause_points_on_a_fake_clock(
    room: Presenter, demo: DemoDefinition
) -> None:
    room.start(demo, T0)
    assert room.next_deadline() == T0 + 10, "the pause point comes first"
    assert room.tick(T0 + 9.9) == []
    events = room.tick(T0 + 12)
    assert events == [(ROOM, {"type": "demo.paused", "index": 0, "elapsed": 10.0, "at": T0 + 10})]
    assert room.next_deadline() is None
    assert room.tick(T0 + 500) == [], "paused: time passes, nothing moves"
    paused = room.snapshot(ANA, T0 + 500)
    assert paused is not None
    assert paused["timing"] == {
        "auto_advance": True,
        "duration": 30.0,
        "remaining": 20.0,
        "paused": True,
    }
    events = room.resume(T0 + 600)
    assert events == [
        (ROOM, {"type": "demo.resumed", "index": 0, "remaining": 20.0, "at": T0 + 600})
    ]
    with pytest.raises(PresentationError, match="not paused"):
        room.resume(T0 + 601)
    assert room.next_deadline() == T0 + 620
    # One late tick walks through step 0 (ends at 620) and step 1 (5 s, ends at 625), then
    # stops at the quiz, which does not auto-advance; each event carries its own moment.
    events = room.tick(T0 + 700)
    steps = [m for _, m in events if m["type"] == "demo.step"]
    assert [(s["index"], s["at"]) for s in steps] == [(1, T0 + 620), (2, T0 + 625)]
    assert only(events, "quiz.opened")["step"] == 2
    assert room.index == 2 and room.next_deadline() is None


def test_the_last_step_stays_when_its_time_is_up(demo: DemoDefinition) -> None:
    room = Presenter()
    room.start(replace(demo, steps=demo.steps[:2]), T0)
    room.goto(1, T0)
    assert room.next_deadline() == T0 + 5
    room.prev(T0 + 1)
    assert room.next_deadline() == T0 + 11, "a step shown again starts its clock again"
    room.next(T0 + 2)
    assert room.tick(T0 + 100) == []
    assert room.index == 1 and room.next_deadline() is None


def test_quiz_through_the_presenter(room: Presenter, demo: DemoDefinition) -> None:
    room.start(demo, T0)
    opened = only(room.goto(2, T0 + 10), "quiz.opened")
    assert opened == {
        "type": "quiz.opened",
        "step": 2,
        "kind": "single",
        "question": "Two plus two?",
        "choices": ["3", "4", "5"],
        "points": 100,
        "window": 20.0,
    }
    events = room.answer(ANA, 2, 0, T0 + 12)
    assert only(events, "quiz.answered", ANA)["answer"] == 0
    assert only(events, "quiz.tally", INSTRUCTORS)["counts"] == [1, 0, 0]
    assert all(to != ROOM for to, _ in events), "the tally goes to instructors only"
    events = room.answer(ANA, 2, 1, T0 + 15)
    assert only(events, "quiz.tally", INSTRUCTORS) == {
        "type": "quiz.tally",
        "step": 2,
        "answers": 1,
        "counts": [0, 1, 0],
    }
    room.answer(BEN, 2, 2, T0 + 20)
    assert only(room.reveal(T0 + 21), "quiz.tally")["counts"] == [0, 1, 1]
    assert only(room.answer(BEN, 2, 1, T0 + 30), "quiz.tally")["counts"] == [0, 2, 0]
    with pytest.raises(QuizError, match="instructors do not answer"):
        room.answer(TEACHER, 2, 1, T0)
    with pytest.raises(QuizError, match="no quiz is open at step 0"):
        room.answer(ANA, 0, 1, T0)
    for hostile in (True, "2", [2], {"a": 1}, 2.0):
        with pytest.raises(QuizError, match="no quiz is open at step"):
            room.answer(ANA, hostile, 1, T0)
    assert room.goto(3, T0 + 31) and room.goto(2, T0 + 32)
    assert "quiz.opened" not in [m["type"] for _, m in room.goto(2, T0 + 33)], "opened once"
    events = room.close_quiz(T0 + 40)
    closed = only(events, "quiz.closed")
    assert closed["answer"] == 1 and closed["tally"]["counts"] == [0, 2, 0]
    # Ana's last change was 5 s in (100 * (1 - 5/40) = 87.5 → 88); Ben's 20 s in (50).
    assert only(events, "quiz.result", ANA) == {
        "type": "quiz.result",
        "step": 2,
        "correct": True,
        "points": 88,
    }
    assert only(events, "quiz.result", BEN)["points"] == 50
    with pytest.raises(QuizError, match="the quiz of step 2 is closed"):
        room.answer(ANA, 2, 1, T0 + 41)
    results = room.drain_quiz_results()
    assert [(r.user_id, r.answer, r.correct, r.points) for r in results] == [
        (ANA, 1, True, 88),
        (BEN, 1, True, 50),
    ]
    assert room.drain_quiz_results() == []


def test_stopping_closes_open_quizzes(room: Presenter, demo: DemoDefinition) -> None:
    room.start(demo, T0)
    room.goto(3, T0)
    room.answer(ANA, 3, "  o(N^2) ", T0 + 1)
    events = room.stop(T0 + 2)
    assert kinds(events) == [(ROOM, "quiz.closed"), (ANA, "quiz.result"), (ROOM, "demo.stopped")]
    assert only(events, "quiz.closed")["answer"] == ["O(n^2)"]
    assert only(events, "quiz.result", ANA)["correct"] is True


def test_the_timeline_says_who_was_where(room: Presenter, demo: DemoDefinition) -> None:
    room.start(demo, T0)
    room.next(T0 + 1)
    room.detach(ANA, T0 + 2)
    room.goto(3, T0 + 3)
    room.record_run(BEN, 1, RunResult(RunStatus.OK, stdout="3\n"), T0 + 4)
    room.join(CAL, T0 + 5)
    room.follow(ANA, T0 + 6)
    room.leave(BEN, T0 + 7)
    room.stop(T0 + 8)
    records = room.drain_timeline()
    assert [(r.kind, r.step, r.at, r.user_id) for r in records] == [
        (TimelineKind.STARTED, 0, T0, None),
        (TimelineKind.JOINED, 0, T0, ANA),
        (TimelineKind.JOINED, 0, T0, BEN),
        (TimelineKind.STEP, 0, T0, None),
        (TimelineKind.STEP, 1, T0 + 1, None),
        (TimelineKind.DETACHED, 1, T0 + 2, ANA),
        (TimelineKind.STEP, 3, T0 + 3, None),
        (TimelineKind.COMPLETED, 1, T0 + 4, BEN),
        (TimelineKind.JOINED, 3, T0 + 5, CAL),
        (TimelineKind.FOLLOWED, 3, T0 + 6, ANA),
        (TimelineKind.LEFT, 3, T0 + 7, BEN),
        (TimelineKind.STOPPED, 3, T0 + 8, None),
    ]
    assert positions(records, T0 + 5.5) == {ANA: 1, BEN: 3, CAL: 3}
    assert positions(records, T0 + 7.5) == {ANA: 3, CAL: 3}
    assert positions(records, T0 + 9) == {}
    assert room.drain_timeline() == []
    assert records[0].to_dict() == {"kind": "started", "step": 0, "at": T0, "user_id": None}


def test_another_process_continues_from_the_handed_over_state(
    room: Presenter, demo: DemoDefinition
) -> None:
    room.start(demo, T0)
    room.goto(1, T0 + 1)
    room.record_run(ANA, 1, RunResult(RunStatus.OK, stdout="3\n"), T0 + 2)
    room.goto(2, T0 + 3)
    room.answer(ANA, 2, 1, T0 + 4)
    room.detach(BEN, T0 + 5)
    room.reveal(T0 + 6)
    room.goto(0, T0 + 7)
    room.tick(T0 + 20)  # paused at 10 s into the intro
    room.drain_timeline()
    copy = Presenter.from_dict(json.loads(json.dumps(room.to_dict())))

    def script(p: Presenter) -> list[Any]:
        out: list[Any] = [p.snapshot(ANA, T0 + 30), p.snapshot(TEACHER, T0 + 30), p.next_deadline()]
        out += p.resume(T0 + 40)
        out += p.tick(T0 + 100)
        out += p.answer(BEN, 2, 1, T0 + 101)
        out += p.follow(BEN, T0 + 102)
        out += p.record_run(BEN, 1, RunResult(RunStatus.OK, stdout="3\n"), T0 + 103)
        out += p.stop(T0 + 104)
        return [*out, p.drain_timeline(), p.drain_quiz_results()]

    assert script(copy) == script(room)
    idle = Presenter.from_dict(json.loads(json.dumps(Presenter().to_dict())))
    assert idle.state is PresentationState.IDLE and idle.snapshot(ANA, T0) is None
