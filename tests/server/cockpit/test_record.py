"""Cockpit.record on a real store: what an attempt failed on, which attempt of a cell is the
latest when grades are stored out of order, and a regrade that replaces an earlier grade."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlmodel import col, select

from server.bus.memory import InMemoryBus
from server.cockpit.component import Cockpit
from server.events.hub import RoomHub
from server.events.presence import LocalPresence
from server.gamification.game import Gamification
from server.gamification.leaderboard import InMemoryLeaderboard
from server.metrics import Metrics
from server.models import AttemptError, AttemptOutcome, ExerciseRecord, Submission, User
from server.models.clock import utcnow
from server.store import Store
from tests.support.rows import classroom_with_room, stored_submission


def results(*tests: tuple[str, str, str]) -> dict[str, Any]:
    return {"tests": [{"name": n, "status": s, "output": o} for n, s, o in tests]}


async def setup(store: Store) -> tuple[int, int]:
    seeded = await classroom_with_room(store, User(name="Ada"))
    async with store.session() as s:
        tests = [{"name": "adds"}, {"name": "negatives"}]
        s.add(
            ExerciseRecord(
                classroom_id=seeded.classroom_id,
                exercise_id="sum",
                title="Sum",
                language="python",
                definition={"tests": tests},
            )
        )
    return seeded.classroom_id, seeded.user_ids[0]


async def graded(store: Store, classroom: int, user: int, attempt: int, res: Any) -> Submission:
    at = utcnow() + timedelta(seconds=attempt)
    return await stored_submission(store, classroom, user, attempt, results=res, submitted_at=at)


async def stored(store: Store) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    async with store.session() as s:
        errors = (
            await s.exec(
                select(AttemptError.submission_id, AttemptError.test, AttemptError.latest).order_by(
                    col(AttemptError.submission_id)
                )
            )
        ).all()
        outcomes = (
            await s.exec(
                select(
                    AttemptOutcome.submission_id, AttemptOutcome.test, AttemptOutcome.passed
                ).order_by(col(AttemptOutcome.submission_id), col(AttemptOutcome.test))
            )
        ).all()
    return [tuple(e) for e in errors], [tuple(o) for o in outcomes]


async def test_the_newest_attempt_is_latest_whatever_order_grades_are_stored_in(
    store: Store,
) -> None:
    classroom, user = await setup(store)
    hub = RoomHub(InMemoryBus(), LocalPresence(), Metrics())
    cockpit = Cockpit(store, hub, Gamification(store, InMemoryLeaderboard()))
    failing = results(("adds", "failed", "NameError: name 'totl' is not defined"))
    first = await graded(store, classroom, user, 1, failing)
    second = await graded(store, classroom, user, 2, results(("adds", "passed", "")))
    third = await graded(store, classroom, user, 3, failing)
    # The third attempt's grade is stored first, then the first's, then the second's.
    for row in (third, first, second):
        await cockpit.record(row)
    errors, outcomes = await stored(store)
    assert errors == [(first.id, "adds", False), (second.id, "", False), (third.id, "adds", True)]
    assert outcomes == [
        (first.id, "adds", False),
        (second.id, "adds", True),
        (third.id, "adds", False),
    ]

    # A regrade of the first attempt (the tests changed) replaces what it stored; the third
    # stays the latest.
    assert first.id is not None
    async with store.session() as s:
        row = await s.get(Submission, first.id)
        assert row is not None
        row.results = results(("adds", "passed", ""), ("negatives", "failed", "AssertionError"))
        s.add(row)
    await cockpit.record(row)
    errors, outcomes = await stored(store)
    assert errors == [
        (first.id, "negatives", False),
        (second.id, "", False),
        (third.id, "adds", True),
    ]
    assert outcomes == [
        (first.id, "adds", True),
        (first.id, "negatives", False),
        (second.id, "adds", True),
        (third.id, "adds", False),
    ]
