"""Demo tables on real SQLite and PostgreSQL: a definition stored and read back, one demo per
(classroom, slug), and a presented session's timeline and quiz answers stored from the pure
records."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from rooms.demos.definition import from_dict, load
from rooms.demos.presenter import Presenter
from server.models import (
    Demo,
    DemoSession,
    DemoTimelineEvent,
    QuizAnswer,
    User,
)
from server.store import Store
from tests.support.rows import classroom_with_room

SORTING = Path(__file__).resolve().parents[3] / "examples" / "course" / "demos" / "sorting.toml"
T0 = 1_800_000_000.0


async def _room(store: Store) -> tuple[int, int, list[int]]:
    teacher = User(name="Ada", email="ada@example.org", kind="instructor")
    seeded = await classroom_with_room(
        store, teacher, User(name="Bo"), User(name="Cy"), join_code="DEMO42"
    )
    return seeded.classroom_id, seeded.room_id, seeded.user_ids[1:]


async def test_a_definition_round_trips_and_a_slug_is_unique_per_classroom(store: Store) -> None:
    classroom_id, _, _ = await _room(store)
    demo = load(SORTING)
    async with store.session() as s:
        s.add(
            Demo(
                classroom_id=classroom_id,
                demo_id=demo.id,
                title=demo.title,
                definition=demo.to_dict(),
            )
        )
    async with store.session() as s:
        row = (await s.exec(select(Demo).where(Demo.demo_id == "bubble-sort"))).one()
        assert from_dict(row.definition) == demo
        row.title = "Renamed on re-import"
        s.add(row)
    with pytest.raises(IntegrityError):
        async with store.session() as s:
            s.add(Demo(classroom_id=classroom_id, demo_id=demo.id, title="dup", definition={}))
    async with store.session() as s:
        rows = (await s.exec(select(Demo))).all()
        assert [r.title for r in rows] == ["Renamed on re-import"]


async def test_a_session_stores_its_timeline_and_quiz_answers(store: Store) -> None:
    _, room_id, (bo, cy) = await _room(store)
    demo = load(SORTING)
    presenter = Presenter()
    presenter.join(bo, T0)
    presenter.join(cy, T0)
    presenter.start(demo, T0)
    presenter.goto(6, T0 + 5)  # the multiple-choice quiz
    presenter.detach(cy, T0 + 6)
    presenter.answer(bo, 6, [1, 0], T0 + 8)
    presenter.answer(cy, 6, [2], T0 + 9)
    presenter.stop(T0 + 20)
    async with store.session() as s:
        session = DemoSession(
            room_id=room_id, demo_id=demo.id, started_at=datetime.fromtimestamp(T0, UTC)
        )
        s.add(session)
        await s.flush()
        assert session.id is not None
        session_id = session.id
        s.add_all(DemoTimelineEvent.from_record(session_id, r) for r in presenter.drain_timeline())
        s.add_all(QuizAnswer.from_result(session_id, r) for r in presenter.drain_quiz_results())
    async with store.session() as s:
        events = (await s.exec(select(DemoTimelineEvent).order_by(col(DemoTimelineEvent.id)))).all()
        assert [(e.kind, e.step, e.user_id) for e in events] == [
            ("started", 0, None),
            ("joined", 0, bo),
            ("joined", 0, cy),
            ("step", 0, None),
            ("step", 6, None),
            ("detached", 6, cy),
            ("stopped", 6, None),
        ]
        stopped = events[-1].at
        # SQLite hands back naive datetimes; both stores hold UTC.
        assert stopped.replace(tzinfo=stopped.tzinfo or UTC) == datetime.fromtimestamp(T0 + 20, UTC)
        answers = (await s.exec(select(QuizAnswer).order_by(col(QuizAnswer.answered_at)))).all()
        assert [(a.user_id, a.answer, a.correct, a.points) for a in answers] == [
            (bo, [0, 1], True, 98),  # 3 s into a 60 s window: 100 * (1 - 3/120)
            (cy, [2], False, 0),
        ]
    with pytest.raises(IntegrityError):
        async with store.session() as s:
            s.add(
                QuizAnswer(
                    session_id=session_id,
                    step=6,
                    user_id=bo,
                    answer=[0],
                    answered_at=datetime.now(UTC),
                    correct=False,
                    points=0,
                )
            )
