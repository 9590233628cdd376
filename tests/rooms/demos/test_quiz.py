from __future__ import annotations

from typing import Any

import pytest

from rooms.demos.exceptions import QuizError
from rooms.demos.model import Choice, QuizContent, QuizKind
from rooms.demos.quiz import Quiz, QuizState, normalise, speed_points
from rooms.xp import LiveWindow, XpRules

T0 = 5_000.0
CHOICES = (Choice("a"), Choice("b", correct=True), Choice("c", correct=True))


def quiz(kind: QuizKind, **extra: Any) -> Quiz:
    if kind is QuizKind.SHORT:
        content = QuizContent(kind, "Name it", accept=("O(n^2)", "quadratic"), **extra)
    else:
        choices = CHOICES if kind is QuizKind.MULTIPLE else (Choice("a"), Choice("b", True))
        content = QuizContent(kind, "Which?", choices=choices, **extra)
    return Quiz(4, content, T0)


def test_speed_points_follow_the_live_exercise_rule() -> None:
    assert [speed_points(100, t, 40) for t in (0, 10, 20, 40, 400, -3)] == [
        100,
        88,
        75,
        50,
        50,
        100,
    ]
    from datetime import UTC, datetime, timedelta

    opened = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    live = LiveWindow(opened, timedelta(seconds=40))
    for t in (0, 7, 13, 29, 40):
        at = opened + timedelta(seconds=t)
        assert speed_points(80, t, 40) == XpRules(first_pass=80).first_pass_points(at, live)


def test_one_answer_per_student_in_the_tally_and_changes_until_close() -> None:
    q = quiz(QuizKind.SINGLE, window=20.0)
    q.answer(1, 0, T0 + 1)
    q.answer(2, 1, T0 + 2)
    q.answer(1, 1, T0 + 4)
    q.answer(1, 1, T0 + 6)
    assert q.tally() == {"type": "quiz.tally", "step": 4, "answers": 2, "counts": [0, 2]}
    results = q.close(T0 + 10)
    assert q.state is QuizState.CLOSED and q.revealed
    # Student 2 answered at +2: 100 * (1 - 2/40) = 95. Student 1 changed to the right answer
    # at +4 (90); sending the same answer again at +6 is no change and costs nothing.
    assert [(r.user_id, r.answered_at, r.correct, r.points) for r in results] == [
        (2, T0 + 2, True, 95),
        (1, T0 + 4, True, 90),
    ]
    with pytest.raises(QuizError, match="the quiz of step 4 is closed"):
        q.answer(3, 1, T0 + 11)
    with pytest.raises(QuizError, match="already closed"):
        q.close(T0 + 12)
    assert q.tally()["answers"] == 2, "a refused answer leaves the tally alone"


def test_multiple_choice_needs_exactly_the_right_set() -> None:
    q = quiz(QuizKind.MULTIPLE)
    assert q.answer(1, [2, 1], T0) == (1, 2)
    q.answer(2, [1], T0)
    q.answer(3, [0, 1, 2], T0)
    assert q.tally()["counts"] == [1, 3, 2]
    results = {r.user_id: r for r in q.close(T0 + 1)}
    assert results[1].correct and results[1].answer == [1, 2]
    assert not results[2].correct and results[2].points == 0
    assert not results[3].correct


def test_short_answers_are_compared_normalised_and_tallied_without_text() -> None:
    q = quiz(QuizKind.SHORT, points=10)
    assert normalise("  O(N^2)\t ") == normalise("o(n^2)")
    q.answer(1, "  o(N^2) ", T0)
    q.answer(2, "QUADRATIC", T0)
    q.answer(3, "linear", T0)
    assert q.tally() == {"type": "quiz.tally", "step": 4, "answers": 3, "correct": 2}
    results = {r.user_id: r for r in q.close(T0)}
    assert results[1].correct and results[1].points == 10 and results[1].answer == "o(N^2)"
    assert results[2].correct and not results[3].correct
    assert q.closed_event()["answer"] == ["O(n^2)", "quadratic"]


@pytest.mark.parametrize(
    ("kind", "bad", "message"),
    [
        (QuizKind.SINGLE, 2, "one choice index, 0..1"),
        (QuizKind.SINGLE, True, "one choice index"),
        (QuizKind.SINGLE, "1", "one choice index"),
        (QuizKind.MULTIPLE, [], "distinct choice indexes, 0..2"),
        (QuizKind.MULTIPLE, [1, 1], "distinct choice indexes"),
        (QuizKind.MULTIPLE, [3], "distinct choice indexes"),
        (QuizKind.MULTIPLE, 1, "distinct choice indexes"),
        (QuizKind.SHORT, "   ", "non-empty string"),
        (QuizKind.SHORT, ["x"], "non-empty string"),
        (QuizKind.SHORT, "x" * 501, "at most 500 characters"),
    ],
)
def test_malformed_answers_are_refused(kind: QuizKind, bad: Any, message: str) -> None:
    q = quiz(kind)
    with pytest.raises(QuizError, match=message):
        q.answer(1, bad, T0)
    assert q.tally()["answers"] == 0


def test_public_state_shows_own_answer_and_the_tally_only_when_revealed() -> None:
    q = quiz(QuizKind.SINGLE)
    q.answer(7, 1, T0)
    state = q.public_state(7)
    assert (state["state"], state["mine"]) == ("open", 1)
    assert "tally" not in state and "answer" not in state
    q.reveal()
    assert q.public_state(8)["tally"]["counts"] == [0, 1]
    q.close(T0 + 1)
    closed = q.public_state(None)
    assert closed["answer"] == 1 and closed["state"] == "closed"
    assert q.result_of(7) is not None and q.result_of(8) is None
