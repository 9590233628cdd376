"""One student's cell, as ``progress.update`` carries it, read in one statement on a real store
(SQLite and PostgreSQL): which submissions, errors, edits and live openings it counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from server.bus.memory import InMemoryBus
from server.cockpit.component import Cockpit
from server.events.hub import RoomHub
from server.events.presence import LocalPresence
from server.gamification.game import Gamification
from server.gamification.leaderboard import InMemoryLeaderboard
from server.metrics import Metrics
from server.models import (
    DocSnapshot,
    DocUpdate,
    ExerciseRecord,
    LiveExercise,
    Submission,
    User,
)
from server.store import Store
from tests.support.rows import classroom_with_room, stored_submission

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


async def seed(store: Store) -> tuple[int, int, int, int]:
    """(classroom, room, Ada, Bob): a ``sum`` exercise stuck after 2 attempts or 10 minutes,
    opened live in the room at T0."""
    seeded = await classroom_with_room(store, User(name="Ada"), User(name="Bob"))
    classroom, room = seeded.classroom_id, seeded.room_id
    async with store.session() as s:
        s.add(
            ExerciseRecord(
                classroom_id=classroom,
                exercise_id="sum",
                title="Sum",
                language="python",
                definition={
                    "tests": [{"name": "adds"}],
                    "thresholds": {"stuck_attempts": 2, "stuck_minutes": 10},
                },
            )
        )
        s.add(
            LiveExercise(
                room_id=room,
                exercise_id="sum",
                opened_at=T0,
                closes_at=T0 + timedelta(hours=1),
            )
        )
    ada, bob = seeded.user_ids
    return classroom, room, ada, bob


async def submission(
    store: Store, classroom: int, user: int, attempt: int, *, status: str, score: float, error: str
) -> Submission:
    verdict = {"name": "adds", "status": "failed" if error else "passed", "output": error}
    return await stored_submission(
        store,
        classroom,
        user,
        attempt,
        results={"tests": [verdict]},
        submitted_at=T0 + timedelta(minutes=2 + attempt),
        status=status,
        score=score,
        max_score=2.0,
        passed=not error,
    )


async def test_one_cell_counts_the_students_own_submissions_errors_and_edits(
    store: Store,
) -> None:
    classroom, room, ada, bob = await seed(store)
    hub = RoomHub(InMemoryBus(), LocalPresence(), Metrics())
    cockpit = Cockpit(store, hub, Gamification(store, InMemoryLeaderboard()))

    async def cell(user: int, minutes: float) -> dict[str, object]:
        event = await cockpit.progress_event(
            room, classroom, user, "sum", now=T0 + timedelta(minutes=minutes)
        )
        assert event is not None and event["type"] == "progress.update"
        assert event["room_id"] == room
        assert event["student"] == {"id": user, "name": "Ada" if user == ada else "Bob"}
        found: dict[str, object] = event["cell"]
        return found

    assert (await cell(ada, 1))["state"] == "not_started"

    # Ada types in her file after the exercise opened, then a snapshot of another of her
    # files is folded later; Bob's edit, later still, is not hers.
    def typed(user: int, minutes: int) -> DocUpdate:
        at = T0 + timedelta(minutes=minutes)
        return DocUpdate(room_id=room, doc=f"students/{user}/main.py", data=b"x", created_at=at)

    folded_at = T0 + timedelta(minutes=2)
    folded = DocSnapshot(
        room_id=room, doc=f"students/{ada}/util.py", data=b"y", updated_at=folded_at
    )
    async with store.session() as s:
        s.add_all([typed(ada, 1), folded, typed(bob, 9)])
    working = await cell(ada, 5)
    assert (working["state"], working["attempts"], working["stuck"]) == ("working", 0, False)
    assert working["last_change_at"] == (T0 + timedelta(minutes=2)).isoformat()
    # Ten minutes without a change: stuck.
    assert (await cell(ada, 12))["stuck"] is True

    # Two failed attempts (the second scores better) and one still grading, which does not count.
    first = await submission(
        store, classroom, ada, 1, status="graded", score=0.5, error="NameError: name 'x'"
    )
    second = await submission(
        store, classroom, ada, 2, status="graded", score=1.0, error="AssertionError: 3 != 4"
    )
    await submission(store, classroom, ada, 3, status="grading", score=0.0, error="")
    for row in (second, first):  # stored out of order: the second stays the latest
        await cockpit.record(row)
    failing = await cell(ada, 5)
    assert (failing["state"], failing["attempts"], failing["stuck"]) == ("failing", 2, True)
    assert (failing["best_score"], failing["max_score"]) == (1.0, 2.0)
    assert "AssertionError: 3 != 4" in str(failing["last_error"])
    assert failing["last_change_at"] == (T0 + timedelta(minutes=4)).isoformat()

    passing = await submission(store, classroom, ada, 4, status="graded", score=2.0, error="")
    await cockpit.record(passing)
    passed = await cell(ada, 30)
    assert (passed["state"], passed["attempts"], passed["best_score"]) == ("passed", 3, 2.0)
    assert (passed["last_error"], passed["stuck"]) == (None, False)

    # Bob has no attempt, and his edit came after the opening: working, on his own edit.
    bobs = await cell(bob, 9.5)
    assert (bobs["state"], bobs["attempts"]) == ("working", 0)
    assert bobs["last_change_at"] == (T0 + timedelta(minutes=9)).isoformat()
    # An exercise that is gone has no cell.
    assert await cockpit.progress_event(room, classroom, ada, "gone") is None
