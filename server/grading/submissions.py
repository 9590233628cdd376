"""Submissions: grade in the sandbox, store the result, tell the student and the staff, then
apply progress, XP, achievements and the leaderboard.

Design note. A submission is written (status ``grading``) before any test runs, so an
attempt is counted even if the process dies mid-grade. The student receives the result
filtered by visibility, the staff the full one. The gamification step runs after the grade
is stored: its failure never loses a grade. Regrading an exercise re-runs the latest
submission of every student (in parallel, bounded) and rewrites those grades in place; it
awards no XP (first passes are history) and says so in the event. A submission's own
writes (the new attempt, its grade) and its live window are one hop each to the store's
session thread (server/thread_sessions.py), not a trip through the async driver and the
event loop for every statement while a class submitting at once is graded and fanned out.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Protocol

from sqlalchemy import Integer, String, bindparam, func
from sqlmodel import Session, col, select

from rooms.events import Audience, Command, EventError, only
from sandbox.exceptions import BackendUnavailable, QueueFull, SandboxError
from sandbox.grading import (
    Exercise,
    GradeResult,
    GradingError,
    InvalidSubmission,
    RateLimiter,
    RegradeItem,
    filter_for_student,
    grade,
    regrade,
)
from sandbox.model import RunRequest, RunResult
from sandbox.output import storable
from server.classrooms.access import room_access_now
from server.courses.exercises import find_exercise
from server.documents.source import Sources
from server.events.hub import RoomConnection, RoomHub
from server.exceptions import ApiError, BadRequest, Conflict, TooManyRequests
from server.gamification.game import Gamification
from server.gamification.room import graded_run
from server.grading.listeners import GradeListener, tell
from server.grading.withdrawn import withdraw
from server.metrics import Metrics
from server.models import ExerciseRecord, LiveExercise, Room, Submission
from server.models.clock import as_utc, utcnow
from server.operations.shutdown import ShutdownDeadline
from server.security.fair_runs import SandboxBusy
from server.settings import Settings
from server.store import Store

log = logging.getLogger("classroom.grading")

RunFunction = Callable[[RunRequest], Awaitable[RunResult]]


class GradeWatcher(Protocol):
    """Told of every stored grade (the cockpit): ``record`` before ``grade.result`` goes out,
    so whatever the student asks next sees it; ``progress_update`` right after."""

    async def record(self, row: Submission) -> None: ...

    async def progress_update(self, room_id: int, row: Submission) -> None: ...


RATE_WINDOW_SECONDS = 60.0


def submission_view(
    row: Submission, exercise: Exercise, *, staff: bool, now: datetime
) -> dict[str, Any]:
    results = row.results
    if results is not None and not staff:
        results = filter_for_student(results, exercise, now)
    return {
        "id": row.id,
        "exercise_id": row.exercise_id,
        "user_id": row.user_id,
        "room_id": row.room_id,
        "attempt": row.attempt,
        "status": row.status,
        "score": results.get("score") if results else None,
        "max_score": results.get("max_score") if results else None,
        "passed": row.passed if staff or results is None else _passed_view(results),
        "submitted_at": row.submitted_at.isoformat(),
        "graded_at": row.graded_at.isoformat() if row.graded_at else None,
        "error": row.error,
        "results": results,
    }


def _passed_view(results: dict[str, Any]) -> bool:
    tests = results.get("tests") or []
    return bool(tests) and all(t.get("status") == "passed" for t in tests)


class Submissions:
    """Grading of the process: the ``submit`` socket command, the HTTP submissions, live
    exercises, regrades and exports. ``run`` runs one grading request to its end (the
    :class:`~server.runs.component.Runs` queue's ``run_to_end``)."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        hub: RoomHub,
        *,
        gamification: Gamification,
        sources: Sources,
        run: RunFunction,
        metrics: Metrics,
        shutdown: ShutdownDeadline,
        watcher: GradeWatcher | None = None,
    ) -> None:
        self.store = store
        self.metrics = metrics
        self.shutdown = shutdown
        self.listeners: list[GradeListener] = []  # told of every stored grade
        self.watcher = watcher
        self.hub = hub
        self.gamification = gamification
        self.sources = sources
        self.run = run
        self.limiter = RateLimiter(settings.submissions_per_minute, RATE_WINDOW_SECONDS)
        self.max_attempts = settings.max_submissions_per_exercise
        self._tasks: set[asyncio.Task[Any]] = set()
        self.regrades: dict[tuple[int, str], dict[str, Any]] = {}
        # Told of every submission that counts (integrity fingerprints it), so not of one
        # withdrawn for capacity; never awaited.
        self.on_accepted: list[Callable[[Submission, Exercise], None]] = []
        hub.handle("submit", self.on_submit)

    async def on_submit(self, conn: RoomConnection, command: Command) -> None:
        """``submit {exercise_id, doc or files}``: accept, answer, grade in the background."""
        try:
            room = await room_access_now(self.store, conn.room_id, conn.user_id)
            files = await self.sources.files_for(
                room, doc=command.get("doc"), files=command.get("files")
            )
            row, exercise, _ = await self.accept(
                room.room, conn.user_id, command.get("exercise_id"), files
            )
        except ApiError as exc:
            raise EventError(exc.code, exc.message) from None
        conn.send(
            {
                "type": "submission.accepted",
                "submission_id": row.id,
                "exercise_id": row.exercise_id,
                "attempt": row.attempt,
                "ref": command.ref,
            }
        )
        await self.submit_in_background(room.room, row, exercise)

    async def start(self) -> None:
        """Nothing to open: grading tasks start with the submissions that need them."""

    async def close(self) -> None:
        # gradings in progress may finish within the deadline
        left = await self.shutdown.wait(list(self._tasks))
        if left:
            log.warning("shutdown deadline: cancelling %d gradings in progress", left)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def exercise(
        self, classroom_id: int, exercise_id: str
    ) -> tuple[ExerciseRecord, Exercise]:
        return await find_exercise(self.store, classroom_id, exercise_id)

    async def accept(
        self, room: Room, user_id: int, exercise_id: str, files: dict[str, str]
    ) -> tuple[Submission, Exercise, int]:
        """Check and record a submission (status ``grading``). Raises 404, 400 or 429."""
        assert room.id is not None
        record, exercise = await self.exercise(room.classroom_id, exercise_id)
        if not files:
            raise BadRequest("a submission needs at least one file", code="no_files")
        entry = exercise.entry
        if len(files) == 1 and entry is not None and entry not in files:
            # An editor document is named after its tab; the exercise names its entry file.
            files = {entry: next(iter(files.values()))}
        limit = exercise.rate_limit
        decision = self.limiter.acquire(
            (user_id, room.classroom_id),
            time.monotonic(),
            count=limit.count if limit else None,
            window=limit.window_seconds if limit else None,
        )
        if not decision.allowed:
            raise TooManyRequests(
                f"too many submissions; try again in {max(1, round(decision.retry_after))} s",
                code="rate_limited",
            )
        row = await self.store.threaded.write(
            partial(
                _insert_attempt,
                max_attempts=self.max_attempts,
                classroom_id=room.classroom_id,
                room_id=room.id,
                exercise_id=exercise_id,
                user_id=user_id,
                files=files,
                exercise_version=record.version,
            )
        )
        return row, exercise, record.version

    async def grade_now(self, room: Room, row: Submission, exercise: Exercise) -> Submission:
        """Grade an accepted submission, store and announce the result."""
        assert row.id is not None and room.id is not None
        now = utcnow()
        started = time.perf_counter()
        try:
            result: GradeResult | None = await grade(
                exercise,
                row.files,
                run=self.run,
                now=now,
                attempt=row.attempt,
                submitted_at=row.submitted_at,
            )
            error = None
        except (QueueFull, BackendUnavailable) as exc:  # not an attempt: fair_runs.py rule 3
            await withdraw(self.store, self.hub, room.id, row, str(exc))
            raise SandboxBusy(f"the sandbox is busy; submit again: {exc}") from None
        except (InvalidSubmission, GradingError, SandboxError) as exc:
            result, error = None, str(exc)
            log.info("room %s submission %s not graded: %s", room.id, row.id, exc)
        # Counted from here on (a withdrawn one is not: its row is gone, and a listener's rows
        # pointing at it would keep it or fail).
        for listener in self.on_accepted:
            listener(row, exercise)
        outcome = "error" if result is None else "graded"
        self.metrics.grading.labels(outcome).observe(time.perf_counter() - started)
        results = None if result is None else result.to_results_json()
        stored = await self.store.threaded.write(
            partial(_store_grade, row_id=row.id, results=results, error=error)
        )
        await tell(self.listeners, stored)
        await self._announce(room.id, stored, exercise, regraded=False)
        if result is not None:
            await self._gamify(room, stored)
        return stored

    async def submit_in_background(self, room: Room, row: Submission, exercise: Exercise) -> None:
        task = asyncio.create_task(self.grade_now(room, row, exercise), name=f"grade-{row.id}")
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and not isinstance(task.exception(), SandboxBusy | None):
            log.error("grading task failed", exc_info=task.exception())

    async def _announce(
        self, room_id: int, row: Submission, exercise: Exercise, *, regraded: bool
    ) -> None:
        if self.watcher is not None:
            await self.watcher.record(row)
        now = utcnow()
        base = {"type": "grade.result", "regraded": regraded}
        student = {**base, "submission": submission_view(row, exercise, staff=False, now=now)}
        staff = {**base, "submission": submission_view(row, exercise, staff=True, now=now)}
        await self.hub.publish(room_id, only(row.user_id), student)
        await self.hub.publish(room_id, Audience(staff=True), staff)
        if self.watcher is not None:
            # The staff's class grid follows the grade (the cockpit's progress.update).
            await self.watcher.progress_update(room_id, row)

    async def _gamify(self, room: Room, row: Submission) -> None:
        assert room.id is not None
        started = time.perf_counter()
        live = await self._live(room.id, row.exercise_id)
        try:
            outbound = await self.gamification.record(graded_run(row, live))
        except Exception:
            log.error(
                "room %s: gamification of submission %s failed", room.id, row.id, exc_info=True
            )
            return
        await self.hub.publish_all(room.id, outbound)
        self.metrics.leaderboard_update.observe(time.perf_counter() - started)

    async def _live(self, room_id: int, exercise_id: str) -> LiveExercise | None:
        """The exercise's latest live window in the room, if it was ever opened live."""
        params = {"room_id": room_id, "exercise_id": exercise_id}
        return await self.store.threaded.read(
            lambda session: session.exec(_LATEST_LIVE, params=params).first()
        )

    async def open_live(self, room: Room, exercise_id: str, minutes: float) -> dict[str, Any]:
        assert room.id is not None
        _, exercise = await self.exercise(room.classroom_id, exercise_id)
        now = utcnow()
        async with self.store.session() as session:
            session.add(
                LiveExercise(
                    room_id=room.id,
                    exercise_id=exercise_id,
                    opened_at=now,
                    closes_at=now + timedelta(minutes=minutes),
                )
            )
        event = {
            "type": "exercise.opened",
            "exercise_id": exercise_id,
            "title": exercise.title,
            "opened_at": now.isoformat(),
            "closes_at": (now + timedelta(minutes=minutes)).isoformat(),
        }
        await self.hub.publish(room.id, Audience(everyone=True), event)
        return event

    # -- regrade ---------------------------------------------------------------------

    async def start_regrade(self, classroom_id: int, exercise_id: str) -> dict[str, Any]:
        record, exercise = await self.exercise(classroom_id, exercise_id)
        key = (classroom_id, exercise_id)
        current = self.regrades.get(key)
        if current is not None and current["state"] == "running":
            return current
        async with self.store.session() as session:
            latest = (
                select(func.max(Submission.id))
                .where(
                    Submission.classroom_id == classroom_id, Submission.exercise_id == exercise_id
                )
                .group_by(col(Submission.user_id))
            )
            rows = list(
                (await session.exec(select(Submission).where(col(Submission.id).in_(latest)))).all()
            )
        status: dict[str, Any] = {
            "exercise_id": exercise_id,
            "state": "running",
            "done": 0,
            "total": len(rows),
            "version": record.version,
        }
        self.regrades[key] = status
        task = asyncio.create_task(
            self._regrade(rows, exercise, status), name=f"regrade-{exercise_id}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return status

    async def _regrade(
        self, rows: list[Submission], exercise: Exercise, status: dict[str, Any]
    ) -> None:
        rooms = {r.room_id for r in rows if r.room_id is not None}
        loop = asyncio.get_running_loop()
        pending: set[asyncio.Future[None]] = set()

        def progress(done: int, total: int) -> None:
            status["done"] = done
            event = {"type": "regrade.progress", **status}
            for room_id in rooms:
                pending.add(
                    asyncio.ensure_future(
                        self.hub.publish(room_id, Audience(staff=True), event), loop=loop
                    )
                )

        items = [RegradeItem(exercise, r.files, r.attempt, as_utc(r.submitted_at)) for r in rows]
        results = await regrade(items, run=self.run, now=utcnow(), progress=progress)
        async with self.store.session() as session:
            for row, result in zip(rows, results, strict=True):
                stored = await session.get(Submission, row.id)
                assert stored is not None
                stored.graded_at = utcnow()
                stored.exercise_version = status["version"]
                if isinstance(result, Exception):
                    stored.status, stored.error = "error", storable(str(result)[:500])
                else:
                    results_json = result.to_results_json()
                    stored.status, stored.error = "graded", None
                    stored.results = results_json
                    stored.score, stored.max_score = (
                        results_json["score"],
                        results_json["max_score"],
                    )
                    stored.passed = _passed_view(results_json)
                session.add(stored)
        await asyncio.gather(*pending, return_exceptions=True)
        status["state"] = "finished"
        for row in rows:
            if row.room_id is not None:
                async with self.store.session() as session:
                    fresh = await session.get(Submission, row.id)
                assert fresh is not None
                await tell(self.listeners, fresh)
                await self._announce(row.room_id, fresh, exercise, regraded=True)
        for room_id in rooms:
            await self.hub.publish(
                room_id, Audience(staff=True), {"type": "regrade.progress", **status}
            )


# A graded submission's statements, run on the store's thread (server/thread_sessions.py): one
# hop each instead of a trip through the async driver per statement, and built once.
_ATTEMPTS = select(func.count()).where(
    col(Submission.classroom_id) == bindparam("classroom_id", type_=Integer),
    col(Submission.exercise_id) == bindparam("exercise_id", type_=String),
    col(Submission.user_id) == bindparam("user_id", type_=Integer),
)

_LATEST_LIVE = (
    select(LiveExercise)
    .where(
        col(LiveExercise.room_id) == bindparam("room_id", type_=Integer),
        col(LiveExercise.exercise_id) == bindparam("exercise_id", type_=String),
    )
    .order_by(col(LiveExercise.id).desc())
    .limit(1)
)


def _insert_attempt(session: Session, *, max_attempts: int, **fields: Any) -> Submission:
    """A new submission (status ``grading``), its author's next attempt at its exercise; 409
    ``too_many_submissions`` past ``max_attempts`` (each attempt keeps its files: at six a
    minute, up to 1 MiB each, one student's script stored 8 GiB a day)."""
    mine = {k: fields[k] for k in ("classroom_id", "exercise_id", "user_id")}
    made = int(session.exec(_ATTEMPTS, params=mine).one())
    if 0 < max_attempts <= made:
        raise Conflict(
            f"you have submitted {made} times to this exercise, the most it takes",
            code="too_many_submissions",
        )
    row = Submission(**fields, attempt=made + 1)
    session.add(row)
    session.flush()
    return row


def _store_grade(
    session: Session, row_id: int, results: dict[str, Any] | None, error: str | None
) -> Submission:
    """An accepted submission's grade (``results``), or why it could not be graded."""
    stored = session.get(Submission, row_id)
    assert stored is not None
    stored.graded_at = utcnow()
    if results is None:
        stored.status = "error"
        stored.error = storable((error or "grading failed")[:500])
    else:
        stored.status = "graded"
        stored.results = results
        stored.score = results["score"]
        stored.max_score = results["max_score"]
        stored.passed = _passed_view(results)
    session.add(stored)
    return stored
