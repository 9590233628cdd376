"""A quiz inside a demo: open to all, one answer per student, an anonymous tally, closed once.

Rules:

1. A quiz opens when the room first reaches its step and stays open until the instructor
   closes it (or the demo stops); moving to another step does not close it.
2. One answer per student. A new answer replaces the old one until the quiz closes, and the
   time of the *last* change is the time that scores: changing your mind costs speed.
3. The tally counts answers, never names: per choice for choice quizzes, right/wrong for short
   answers (free text could name someone). Students see it only after ``reveal``, and the
   right/wrong count of a short answer only once the quiz is closed (:meth:`Quiz.room_tally`):
   while it is open, a count that moves with each answer would let a student test guesses.
4. Scoring uses the speed rule of live exercises (``speed_points``), from the time the quiz
   opened to the time of the answer.
5. Short answers compare after normalisation: Unicode NFKC, case folded, runs of white space
   as one space, and the ends trimmed. ``"  o(N^2) "`` matches ``"O(n^2)"``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from rooms.demos.exceptions import QuizError
from rooms.demos.model import QuizContent, QuizKind
from rooms.xp import LiveWindow, XpRules

MAX_SHORT_ANSWER = 500

AnswerValue = int | tuple[int, ...] | str


def speed_points(base: int, elapsed: float, window: float) -> int:
    """Points for a right answer ``elapsed`` seconds after the quiz opened.

    points = base * (1 - elapsed / (2 * window)), elapsed clamped to [0, window], rounded: an
    instant answer scores ``base``, one at the end of the window (or later) half of it. This
    is the live-exercise rule of ``rooms.xp`` (default speed weight 1/2), called, not copied,
    so quizzes and exercises race by the same clock. A wrong answer scores 0.
    """
    opened = datetime.fromtimestamp(0, UTC)
    live = LiveWindow(opened, timedelta(seconds=window))
    return XpRules(first_pass=base).first_pass_points(opened + timedelta(seconds=elapsed), live)


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text).casefold()).strip()


class QuizState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True)
class QuizResult:
    """One student's scored answer: a row of the QuizAnswer table and the leaderboard's input."""

    step: int
    user_id: int
    answer: int | list[int] | str
    answered_at: float
    correct: bool
    points: int


class Quiz:
    def __init__(self, step: int, content: QuizContent, opened_at: float) -> None:
        self.step = step
        self.content = content
        self.opened_at = opened_at
        self.state = QuizState.OPEN
        self.revealed = False
        self._answers: dict[int, tuple[AnswerValue, float]] = {}
        self._results: list[QuizResult] = []

    def answer(self, user_id: int, value: Any, now: float) -> AnswerValue:
        """Record (or replace) ``user_id``'s answer; the checked value is returned."""
        if self.state is QuizState.CLOSED:
            raise QuizError(f"the quiz of step {self.step} is closed")
        checked = self._check(value)
        previous = self._answers.get(user_id)
        if previous is None or previous[0] != checked:  # sending the same answer again is no change
            self._answers[user_id] = (checked, now)
        return checked

    def answer_of(self, user_id: int) -> AnswerValue | None:
        found = self._answers.get(user_id)
        return found[0] if found else None

    def reveal(self) -> None:
        self.revealed = True

    def close(self, now: float) -> list[QuizResult]:
        """Close once; the scored answers, in the order students answered."""
        if self.state is QuizState.CLOSED:
            raise QuizError(f"the quiz of step {self.step} is already closed")
        self.state = QuizState.CLOSED
        self.revealed = True
        by_time = sorted(self._answers.items(), key=lambda item: item[1][1])
        for user_id, (value, at) in by_time:
            right = self.is_correct(value)
            points = speed_points(self.content.points, at - self.opened_at, self.content.window)
            result = QuizResult(
                self.step, user_id, _plain(value), at, right, points if right else 0
            )
            self._results.append(result)
        return list(self._results)

    def result_of(self, user_id: int) -> QuizResult | None:
        return next((r for r in self._results if r.user_id == user_id), None)

    def is_correct(self, value: AnswerValue) -> bool:
        right = self.content.right_answer
        if self.content.kind is QuizKind.SHORT:
            return isinstance(value, str) and normalise(value) in {
                normalise(a) for a in self.content.accept
            }
        if self.content.kind is QuizKind.MULTIPLE:
            return isinstance(value, tuple) and list(value) == right
        return value == right

    def tally(self) -> dict[str, Any]:
        answers = [value for value, _ in self._answers.values()]
        data: dict[str, Any] = {"type": "quiz.tally", "step": self.step, "answers": len(answers)}
        if self.content.kind is QuizKind.SHORT:
            data["correct"] = sum(self.is_correct(a) for a in answers)
            return data
        counts = [0] * len(self.content.choices)
        for value in answers:
            for choice in value if isinstance(value, tuple) else (value,):
                counts[int(choice)] += 1
        data["counts"] = counts
        return data

    def room_tally(self) -> dict[str, Any]:
        """The tally as students may see it (rule 3): no correctness while the quiz is open."""
        data = self.tally()
        if self.state is not QuizState.CLOSED:
            data.pop("correct", None)
        return data

    def opened_event(self) -> dict[str, Any]:
        return {
            "type": "quiz.opened",
            "step": self.step,
            "kind": self.content.kind.value,
            "question": self.content.question,
            "choices": [c.text for c in self.content.choices],
            "points": self.content.points,
            "window": self.content.window,
        }

    def closed_event(self) -> dict[str, Any]:
        return {
            "type": "quiz.closed",
            "step": self.step,
            "answer": self.content.right_answer,
            "tally": self.tally(),
        }

    def public_state(self, user_id: int | None) -> dict[str, Any]:
        """What a (late) joiner needs to draw the quiz: its own answer, the tally if shown."""
        mine = self.answer_of(user_id) if user_id is not None else None
        state: dict[str, Any] = {
            **self.opened_event(),
            "type": "quiz.state",
            "state": self.state.value,
            "mine": list(mine) if isinstance(mine, tuple) else mine,
        }
        if self.revealed:
            state["tally"] = self.room_tally()
        if self.state is QuizState.CLOSED:
            state["answer"] = self.content.right_answer
        return state

    def to_dict(self) -> dict[str, Any]:
        """The quiz's state as JSON (the content comes from the definition on restore)."""
        return {
            "step": self.step,
            "opened_at": self.opened_at,
            "state": self.state.value,
            "revealed": self.revealed,
            "answers": [[user, _plain(value), at] for user, (value, at) in self._answers.items()],
            "results": [asdict(r) for r in self._results],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], content: QuizContent) -> Quiz:
        quiz = cls(int(data["step"]), content, float(data["opened_at"]))
        quiz.state = QuizState(data["state"])
        quiz.revealed = bool(data["revealed"])
        for user, value, at in data["answers"]:
            quiz._answers[int(user)] = (tuple(value) if isinstance(value, list) else value, at)
        quiz._results = [QuizResult(**r) for r in data["results"]]
        return quiz

    def _check(self, value: Any) -> AnswerValue:
        count = len(self.content.choices)
        kind = self.content.kind
        if kind is QuizKind.SHORT:
            if not isinstance(value, str) or not value.strip():
                raise QuizError("a short answer is a non-empty string")
            if len(value) > MAX_SHORT_ANSWER:
                raise QuizError(f"a short answer has at most {MAX_SHORT_ANSWER} characters")
            return value.strip()
        if kind is QuizKind.SINGLE:
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < count:
                raise QuizError(f"a single-choice answer is one choice index, 0..{count - 1}")
            return value
        if (
            not isinstance(value, list)
            or not value
            or any(
                isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < count for v in value
            )
            or len(set(value)) != len(value)
        ):
            raise QuizError(
                f"a multiple-choice answer is a list of distinct choice indexes, 0..{count - 1}"
            )
        return tuple(sorted(value))


def _plain(value: AnswerValue) -> int | list[int] | str:
    return list(value) if isinstance(value, tuple) else value
