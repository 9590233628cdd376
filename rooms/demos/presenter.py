"""The presentation state of one room: which demo, which step, who follows, who is done.

Sans-I/O: every method takes the time ``now`` (seconds, the caller's clock) and returns the
events to send as ``(Audience, message)`` pairs (:data:`rooms.events.Outgoing`): :data:`ROOM`
(every client), :data:`INSTRUCTORS` (instructors and assistants) or ``only(user_id)``. Records
to store collect
in ``drain_timeline()`` and ``drain_quiz_results()``. The caller checks roles: only
instructors may start, stop, move, resume, reveal and close; the presenter refuses what is
illegal for anyone with ``PresentationError`` or ``QuizError`` (both ``DemoError``).

Commands (client → server) and the method each maps to::

    demo.start {demo_id}        start(definition, now)      (the caller loads the definition)
    demo.stop                   stop(now)
    demo.goto {step}            goto(step, now)             steps are 0-based indexes
    demo.next / demo.prev       next(now) / prev(now)
    demo.resume                 resume(now)                 after a pause point
    demo.detach / demo.follow   detach(user, now) / follow(user, now)
    quiz.answer {step, answer}  answer(user, step, answer, now)
    quiz.reveal {step?}         reveal(now, step)           default: the step on screen
    quiz.close {step?}          close_quiz(now, step)
    (a check run finished)      record_run(user, step, result, now)
    (connect / disconnect)      join(user, now, instructor=) / leave(user, now); snapshot(user)
    (timer)                     tick(now) at next_deadline()
    (another process takes over) Presenter.from_dict(presenter.to_dict())

Events (server → client)::

    room        demo.step     {demo_id, title, index, total, step, followers, students,
                               timing: {auto_advance, duration, remaining, paused}, quiz, at}
                               step = DemoStep.public_dict(); quiz = Quiz.public_state or null.
                               A code step's content.files is what the ``demo`` doc shows.
    room        demo.paused   {index, elapsed, at}      demo.resumed {index, remaining, at}
    room        demo.stopped  {demo_id, at}
    instructors demo.followers {followers, students, detached: [user]}
    instructors demo.validation {index, step_id, completed: [user], count, students}
    user        demo.check    {index, passed}
    user        demo.step     (after demo.follow: the current step, as above)
    room        quiz.opened   {step, kind, question, choices: [text], points, window}
    user        quiz.answered {step, answer}
    instructors quiz.tally    {step, answers, counts: [n per choice] | correct: n}
    room        quiz.tally    (the same, once revealed)
    room        quiz.closed   {step, answer (the right one), tally}
    user        quiz.result   {step, correct, points}
"""

from __future__ import annotations

from typing import Any, Final

from rooms.demos.clock import ClockState, StepClock
from rooms.demos.definition import from_dict as definition_from_dict
from rooms.demos.exceptions import PresentationError, QuizError
from rooms.demos.model import Check, DemoDefinition, DemoStep, QuizContent
from rooms.demos.quiz import Quiz, QuizResult, QuizState
from rooms.demos.session import PresentationState, Session
from rooms.demos.timeline import TimelineKind, TimelineRecord
from rooms.events import ROOM_AUDIENCE, STAFF_AUDIENCE, Outgoing, only
from sandbox.model import RunResult

ROOM: Final = ROOM_AUDIENCE
INSTRUCTORS: Final = STAFF_AUDIENCE

Event = Outgoing


class Presenter:
    def __init__(self) -> None:
        self.state = PresentationState.IDLE
        self._session: Session | None = None
        self._students: dict[int, int] = {}  # user → open connections
        self._instructors: dict[int, int] = {}
        self._timeline: list[TimelineRecord] = []
        self._results: list[QuizResult] = []

    # -- who is here ---------------------------------------------------------------------

    def join(self, user_id: int, now: float, *, instructor: bool = False) -> list[Event]:
        table = self._instructors if instructor else self._students
        table[user_id] = table.get(user_id, 0) + 1
        if instructor or table[user_id] > 1 or self._session is None:
            return []
        self._record(TimelineKind.JOINED, self._session.index, now, user_id)
        return [self._followers_event()]

    def leave(self, user_id: int, now: float) -> list[Event]:
        for table in (self._instructors, self._students):
            if user_id in table:
                table[user_id] -= 1
                if table[user_id] == 0:
                    del table[user_id]
                    if table is self._students and self._session is not None:
                        self._session.detached.pop(user_id, None)
                        self._record(TimelineKind.LEFT, self._session.index, now, user_id)
                        return [self._followers_event()]
                return []
        return []

    def detach(self, user_id: int, now: float) -> list[Event]:
        session = self._require()
        if user_id not in self._students:
            raise PresentationError("only a student in the room can detach")
        if user_id in session.detached:
            return []
        session.detached[user_id] = session.index
        self._record(TimelineKind.DETACHED, session.index, now, user_id)
        return [self._followers_event()]

    def follow(self, user_id: int, now: float) -> list[Event]:
        session = self._require()
        if session.detached.pop(user_id, None) is None:
            return []
        self._record(TimelineKind.FOLLOWED, session.index, now, user_id)
        return [self._followers_event(), (only(user_id), self._step_event(now, user_id))]

    @property
    def followers(self) -> int:
        detached = self._session.detached if self._session else {}
        return sum(1 for user in self._students if user not in detached)

    # -- moving --------------------------------------------------------------------------

    def start(self, demo: DemoDefinition, now: float) -> list[Event]:
        if self.state is PresentationState.PRESENTING:
            raise PresentationError("a demo is already running here; stop it first")
        self._session = Session(demo)
        self.state = PresentationState.PRESENTING
        self._record(TimelineKind.STARTED, 0, now)
        for user in sorted(self._students):
            self._record(TimelineKind.JOINED, 0, now, user)
        return self._show(0, now)

    def stop(self, now: float) -> list[Event]:
        session = self._require()
        events: list[Event] = []
        for step, quiz in sorted(session.quizzes.items()):
            if quiz.state is QuizState.OPEN:
                events += self.close_quiz(now, step)
        self.state = PresentationState.STOPPED
        self._record(TimelineKind.STOPPED, session.index, now)
        self._session = None
        events.append((ROOM, {"type": "demo.stopped", "demo_id": session.demo.id, "at": now}))
        return events

    def goto(self, step: Any, now: float) -> list[Event]:
        session = self._require()
        total = len(session.demo.steps)
        if isinstance(step, bool) or not isinstance(step, int):
            raise PresentationError(f"step must be a step index (an integer), not {step!r}")
        if not 0 <= step < total:
            raise PresentationError(
                f"step {step} is out of range; this demo has steps 0..{total - 1}"
            )
        return self._show(step, now)

    def next(self, now: float) -> list[Event]:
        session = self._require()
        if session.index + 1 >= len(session.demo.steps):
            raise PresentationError("already at the last step")
        return self._show(session.index + 1, now)

    def prev(self, now: float) -> list[Event]:
        session = self._require()
        if session.index == 0:
            raise PresentationError("already at the first step")
        return self._show(session.index - 1, now)

    def resume(self, now: float) -> list[Event]:
        session = self._require()
        if session.clock is None:
            raise PresentationError("the step is not paused")
        session.clock.resume(now)
        self._record(TimelineKind.RESUMED, session.index, now)
        remaining = session.clock.remaining(now)
        return [
            (
                ROOM,
                {"type": "demo.resumed", "index": session.index, "remaining": remaining, "at": now},
            )
        ]

    def next_deadline(self) -> float | None:
        """When to call ``tick`` next; None when no timer runs."""
        session = self._session
        if session is None or session.clock is None:
            return None
        return session.clock.due()

    def tick(self, now: float) -> list[Event]:
        """Pause at pause points and advance steps whose duration has elapsed, up to ``now``."""
        events: list[Event] = []
        while (session := self._session) is not None and session.clock is not None:
            tick = session.clock.poll(now)
            if tick is None:
                break
            if tick.kind == "pause":
                self._record(TimelineKind.PAUSED, session.index, tick.at)
                message = {
                    "type": "demo.paused",
                    "index": session.index,
                    "elapsed": tick.elapsed,
                    "at": tick.at,
                }
                events.append((ROOM, message))
                break
            if session.index + 1 >= len(session.demo.steps):
                break  # the last step stays on screen until the instructor stops the demo
            events += self._show(session.index + 1, tick.at)
        return events

    # -- validation and quizzes ----------------------------------------------------------

    def check(self, step: int | None = None) -> Check | None:
        """The run that validates ``step`` (default: the step on screen), if it has one."""
        return self._step(step).validation

    def record_run(self, user_id: int, step: int, result: RunResult, now: float) -> list[Event]:
        """A student's check run of ``step`` finished; only a passing run completes the step."""
        session = self._require()
        check = self._step(step).validation
        if check is None:
            raise PresentationError(f"step {step} has no validation")
        passed = check.passes(result)
        events: list[Event] = [
            (only(user_id), {"type": "demo.check", "index": step, "passed": passed})
        ]
        done = session.completed.setdefault(step, set())
        if passed and user_id not in done:
            done.add(user_id)
            self._record(TimelineKind.COMPLETED, step, now, user_id)
            events.append((INSTRUCTORS, self._validation_event(step)))
        return events

    def answer(self, user_id: int, step: Any, value: Any, now: float) -> list[Event]:
        quiz = self._quiz(step)
        if user_id in self._instructors:
            raise QuizError("instructors do not answer quizzes")
        checked = quiz.answer(user_id, value, now)
        shown = list(checked) if isinstance(checked, tuple) else checked
        events: list[Event] = [
            (only(user_id), {"type": "quiz.answered", "step": quiz.step, "answer": shown})
        ]
        return events + self._tally_events(quiz)

    def reveal(self, now: float, step: Any = None) -> list[Event]:
        quiz = self._quiz(step)
        quiz.reveal()
        return self._tally_events(quiz)

    def close_quiz(self, now: float, step: Any = None) -> list[Event]:
        quiz = self._quiz(step)
        results = quiz.close(now)
        self._results += results
        events: list[Event] = [(ROOM, quiz.closed_event())]
        for r in results:
            events.append(
                (
                    only(r.user_id),
                    {
                        "type": "quiz.result",
                        "step": r.step,
                        "correct": r.correct,
                        "points": r.points,
                    },
                )
            )
        return events

    # -- reading -------------------------------------------------------------------------

    def snapshot(self, user_id: int, now: float) -> dict[str, Any] | None:
        """The demo part of ``room.snapshot`` for a (late) joiner; None when no demo runs."""
        session = self._session
        if session is None:
            return None
        data = self._step_event(now, user_id)
        data["following"] = user_id not in session.detached
        data["completed"] = user_id in session.completed.get(session.index, set())
        if user_id in self._instructors:
            data["detached"] = sorted(session.detached)
            data["completed_by"] = sorted(session.completed.get(session.index, set()))
        return data

    @property
    def demo(self) -> DemoDefinition | None:
        return self._session.demo if self._session else None

    @property
    def index(self) -> int | None:
        return self._session.index if self._session else None

    def drain_timeline(self) -> list[TimelineRecord]:
        records, self._timeline = self._timeline, []
        return records

    def drain_quiz_results(self) -> list[QuizResult]:
        results, self._results = self._results, []
        return results

    # -- handing over --------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The whole state as JSON, for another process to continue with ``from_dict``.
        Records not yet drained are not part of it: drain them first."""
        session = self._session
        data: dict[str, Any] = {
            "state": self.state.value,
            "students": [[user, n] for user, n in self._students.items()],
            "instructors": [[user, n] for user, n in self._instructors.items()],
            "session": None,
        }
        if session is not None:
            data["session"] = {
                "demo": session.demo.to_dict(),
                "index": session.index,
                "clock": session.clock.to_dict() if session.clock else None,
                "detached": [[user, step] for user, step in session.detached.items()],
                "completed": [[step, sorted(users)] for step, users in session.completed.items()],
                "quizzes": [quiz.to_dict() for quiz in session.quizzes.values()],
            }
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Presenter:
        presenter = cls()
        presenter.state = PresentationState(data["state"])
        presenter._students = {int(user): int(n) for user, n in data["students"]}
        presenter._instructors = {int(user): int(n) for user, n in data["instructors"]}
        raw = data["session"]
        if raw is not None:
            demo = definition_from_dict(raw["demo"])
            session = Session(demo, index=int(raw["index"]))
            session.clock = StepClock.from_dict(raw["clock"]) if raw["clock"] else None
            session.detached = {int(user): int(step) for user, step in raw["detached"]}
            session.completed = {int(step): set(users) for step, users in raw["completed"]}
            for quiz in raw["quizzes"]:
                content = demo.steps[int(quiz["step"])].content
                assert isinstance(content, QuizContent)
                session.quizzes[int(quiz["step"])] = Quiz.from_dict(quiz, content)
            presenter._session = session
        return presenter

    # -- inside --------------------------------------------------------------------------

    def _require(self) -> Session:
        if self._session is None:
            raise PresentationError("no demo is running; start one first")
        return self._session

    def _step(self, step: int | None) -> DemoStep:
        session = self._require()
        index = session.index if step is None else step
        if (
            isinstance(index, bool)
            or not isinstance(index, int)
            or not 0 <= index < len(session.demo.steps)
        ):
            raise PresentationError(f"step {index!r} is not a step of this demo")
        return session.demo.steps[index]

    def _quiz(self, step: Any) -> Quiz:
        session = self._require()
        index = session.index if step is None else step
        usable = isinstance(index, int) and not isinstance(index, bool)
        quiz = session.quizzes.get(index) if usable else None
        if quiz is None:
            raise QuizError(f"no quiz is open at step {index!r}")
        return quiz

    def _show(self, index: int, now: float) -> list[Event]:
        session = self._require()
        session.index = index
        step = session.demo.steps[index]
        timing = step.timing
        session.clock = StepClock(timing, now) if timing.auto_advance else None
        self._record(TimelineKind.STEP, index, now)
        events: list[Event] = []
        if isinstance(step.content, QuizContent) and index not in session.quizzes:
            quiz = Quiz(index, step.content, now)
            session.quizzes[index] = quiz
            events.append((ROOM, quiz.opened_event()))
        return [(ROOM, self._step_event(now)), *events]

    def _step_event(self, now: float, user_id: int | None = None) -> dict[str, Any]:
        session = self._require()
        step = session.demo.steps[session.index]
        clock = session.clock
        quiz = session.quizzes.get(session.index)
        return {
            "type": "demo.step",
            "demo_id": session.demo.id,
            "title": session.demo.title,
            "index": session.index,
            "total": len(session.demo.steps),
            "step": step.public_dict(),
            "followers": self.followers,
            "students": len(self._students),
            "timing": {
                "auto_advance": step.timing.auto_advance,
                "duration": step.timing.duration,
                "remaining": clock.remaining(now) if clock else None,
                "paused": clock is not None and clock.state is ClockState.PAUSED,
            },
            "quiz": quiz.public_state(user_id) if quiz else None,
            "at": now,
        }

    def _followers_event(self) -> Event:
        detached = sorted(self._session.detached) if self._session else []
        message = {
            "type": "demo.followers",
            "followers": self.followers,
            "students": len(self._students),
            "detached": detached,
        }
        return (INSTRUCTORS, message)

    def _validation_event(self, step: int) -> dict[str, Any]:
        session = self._require()
        done = sorted(session.completed.get(step, set()))
        return {
            "type": "demo.validation",
            "index": step,
            "step_id": session.demo.steps[step].id,
            "completed": done,
            "count": len(done),
            "students": len(self._students),
        }

    def _tally_events(self, quiz: Quiz) -> list[Event]:
        # The room's copy first: staff are in the room too, and the last tally they get is theirs.
        shown: list[Event] = [(ROOM, quiz.room_tally())] if quiz.revealed else []
        return [*shown, (INSTRUCTORS, quiz.tally())]

    def _record(
        self, kind: TimelineKind, step: int | None, at: float, user_id: int | None = None
    ) -> None:
        self._timeline.append(TimelineRecord(kind, step, at, user_id))
