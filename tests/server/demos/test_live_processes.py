"""A live demo across two server processes sharing one presenter through Redis: students on
the other process follow the steps and the ``demo`` document, and auto-advance outlives the
process that presented."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlmodel import select

from server.models import DemoSession, QuizAnswer
from server.store import Store
from tests.node.harness import YjsHarness
from tests.server.demos.course import CODE, import_into, write_course
from tests.server.processes import PrivateRedis, ServerProcess, prepare_lesson, server_env
from tests.services import require
from tests.support.events import close_all, opened

DATABASES = ("sqlite", "postgres")


@pytest.fixture
async def pair(
    tmp_path: Path, database_url: str, private_redis: PrivateRedis
) -> AsyncIterator[tuple[ServerProcess, ServerProcess]]:
    env = server_env(tmp_path, database_url, redis_url=private_redis.url)
    one, two = ServerProcess(env), ServerProcess(env)
    await one.start()  # one at a time: each migrates the shared database on start
    await two.start()
    try:
        yield one, two
    finally:
        await asyncio.gather(one.stop(), two.stop())


@pytest.mark.redis
@pytest.mark.node
@pytest.mark.slow
async def test_presenter_on_one_process_students_on_another(
    tmp_path: Path, database_url: str, pair: tuple[ServerProcess, ServerProcess]
) -> None:
    require("node")
    one, two = pair
    lesson = await prepare_lesson(database_url, one.url)
    await import_into(database_url, lesson.classroom["id"], write_course(tmp_path / "course"))
    room = lesson.room_id
    teacher, _ = await opened(one.ws_url, room, lesson.teacher.token)
    alice, _ = await opened(two.ws_url, room, lesson.alice.token)
    try:
        await teacher.send({"type": "demo.start", "demo_id": "tour"})
        assert (await alice.expect("demo.step"))["students"] == 1
        async with YjsHarness() as yjs:
            # Alice's editor on the other process follows the code step written by the first.
            reply = await yjs.call(
                "open",
                client="alice",
                url=f"{two.ws_url}/yjs",
                doc=f"{room}/demo",
                token=lesson.alice.token,
            )
            assert reply["synced"], reply
            await teacher.send({"type": "demo.next"})
            assert (await alice.expect("demo.step"))["index"] == 1
            await yjs.call("wait_text", client="alice", equals=CODE, timeout_ms=10000)
        await teacher.send({"type": "demo.goto", "step": 3})
        assert (await alice.expect("demo.step"))["index"] == 3
        await alice.send({"type": "quiz.answer", "answer": 1})
        assert (await teacher.expect("quiz.tally"))["counts"] == [0, 1]

        # Bob joins on the second process: its snapshot comes from the shared state.
        bob, snapshot = await opened(two.ws_url, room, lesson.bob.token)
        assert snapshot["demo"]["index"] == 3 and snapshot["demo"]["students"] == 2
        assert (await teacher.expect("demo.followers"))["followers"] == 2
        await bob.send({"type": "demo.detach"})
        assert (await teacher.expect("demo.followers"))["detached"] == [lesson.bob.id]

        await teacher.send({"type": "quiz.close"})
        assert (await alice.expect("quiz.result"))["correct"] is True
        await teacher.send({"type": "demo.stop"})
        await bob.expect("demo.stopped")
        await bob.close()
    finally:
        await close_all(teacher, alice)

    store = Store(database_url)
    try:
        async with store.session() as session:
            sessions = (await session.exec(select(DemoSession))).all()
            answers = (await session.exec(select(QuizAnswer))).all()
    finally:
        await store.close()
    assert len(sessions) == 1 and sessions[0].ended_at is not None
    assert [(a.user_id, a.correct) for a in answers] == [(lesson.alice.id, True)]


@pytest.mark.redis
@pytest.mark.slow
async def test_auto_advance_outlives_the_presenting_process(
    tmp_path: Path, database_url: str, pair: tuple[ServerProcess, ServerProcess]
) -> None:
    one, two = pair
    lesson = await prepare_lesson(database_url, one.url)
    await import_into(database_url, lesson.classroom["id"], write_course(tmp_path / "course"))
    room = lesson.room_id
    teacher, _ = await opened(one.ws_url, room, lesson.teacher.token)
    alice, _ = await opened(two.ws_url, room, lesson.alice.token)
    try:
        await teacher.send({"type": "demo.start", "demo_id": "relay"})
        assert (await alice.expect("demo.step"))["index"] == 0
        assert (await alice.expect("demo.paused", timeout=10))["index"] == 0
        await teacher.send({"type": "demo.resume"})
        resumed = await alice.expect("demo.resumed")
        assert resumed["remaining"] > 2
        # The process that armed the step's timer dies before it fires; the other
        # process's backup timer moves the room on, then keeps timing the next step.
        await one.kill()
        assert (await alice.expect("demo.step", timeout=15))["index"] == 1
        assert (await alice.expect("demo.step", timeout=10))["index"] == 2
    finally:
        await alice.close()
        with contextlib.suppress(Exception):
            await teacher.close()
