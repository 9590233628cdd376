"""A demo's analytics from sessions scripted here (timeline rows and quiz answers as the
presenter stores them), on SQLite and PostgreSQL; students may not read them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from starlette.applications import Starlette

from server.models import DemoSession, DemoTimelineEvent, QuizAnswer
from tests.conftest import Lesson, join_as, new_room, state_of

DATABASES = ("sqlite", "postgres")
T0 = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


async def test_followers_detachers_and_quiz_per_step(
    app: Starlette, client: httpx.AsyncClient, lesson: Lesson
) -> None:
    carol = await join_as(client, lesson.classroom["join_code"], "Carol")
    alice, bob = lesson.alice.id, lesson.bob.id
    other_room = await new_room(client, lesson.teacher, lesson.classroom["id"])
    store = state_of(app).store

    def at(seconds: int) -> datetime:
        return T0 + timedelta(seconds=seconds)

    async with store.session() as session:
        first = DemoSession(room_id=lesson.room_id, demo_id="loops", started_at=T0)
        second = DemoSession(room_id=other_room["id"], demo_id="loops", started_at=at(600))
        unrelated = DemoSession(room_id=lesson.room_id, demo_id="other", started_at=T0)
        session.add_all([first, second, unrelated])
        await session.flush()
        assert first.id and second.id and unrelated.id
        script = [
            (first.id, None, "started", 0, 0),
            (first.id, alice, "joined", None, 1),
            (first.id, bob, "joined", None, 1),
            (first.id, None, "step", 1, 2),
            (first.id, bob, "detached", 1, 3),
            (first.id, None, "step", 2, 4),
            (first.id, None, "stopped", None, 5),
            (second.id, None, "started", 0, 600),
            (second.id, carol.id, "joined", None, 601),
            (second.id, carol.id, "detached", 0, 602),
            (second.id, None, "step", 1, 603),
            (unrelated.id, None, "started", 0, 0),
            (unrelated.id, alice, "detached", 0, 1),
        ]
        session.add_all(
            DemoTimelineEvent(session_id=s, user_id=u, kind=k, step=step, at=at(t))
            for s, u, k, step, t in script
        )
        answers = [
            (first.id, 1, alice, True),
            (first.id, 1, bob, False),
            (second.id, 1, carol.id, True),
        ]
        answers += [(first.id, 2, alice, False)]
        session.add_all(
            QuizAnswer(
                session_id=s,
                step=step,
                user_id=u,
                answer="x",
                answered_at=T0,
                correct=ok,
                points=10 if ok else 0,
            )
            for s, step, u, ok in answers
        )

    path = f"/api/classrooms/{lesson.classroom['id']}/demos/loops/analytics"
    response = await client.get(path, headers=lesson.teacher.headers)
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["sessions"] == 2
    # Step 0: Alice and Bob (first session), Carol until she detached (second).
    # Step 1: Alice and Bob (he detached on it); Carol was detached: not a follower.
    assert data["steps"] == [
        {"step": 0, "followers": 3, "detachers": 1},
        {"step": 1, "followers": 2, "detachers": 1},
        {"step": 2, "followers": 1, "detachers": 0},
    ]
    assert data["quiz"] == [
        {"step": 1, "answers": 3, "students": 3, "correct": 2, "rate": 0.6667},
        {"step": 2, "answers": 1, "students": 1, "correct": 0, "rate": 0.0},
    ]
    refused = await client.get(path, headers=lesson.alice.headers)
    assert refused.status_code == 403
