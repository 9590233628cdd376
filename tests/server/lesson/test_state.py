"""The lesson state stores: in memory and in the real Redis, the same contract (the Redis one
shares its lock and keys with the demo store: server/redis_room_state.py)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from server.lesson.state import LessonStore, MemoryLessons
from server.lesson.state_redis import RedisLessons
from tests.services import REDIS_URL, delete_redis_keys, require


@pytest.fixture(params=["memory", "redis"])
async def lessons(request: pytest.FixtureRequest) -> AsyncIterator[LessonStore]:
    if request.param == "memory":
        yield MemoryLessons()
        return
    require("redis")
    prefix = f"test:lesson:{uuid.uuid4().hex[:8]}:"
    store = RedisLessons(REDIS_URL, prefix=prefix)
    yield store
    await store.close()
    await delete_redis_keys(prefix)


async def test_a_saved_freeze_is_what_every_reader_sees(lessons: LessonStore) -> None:
    async with lessons.hold(1) as state:
        state.freeze("quiz", 5.0)
        await lessons.save(1, state)
    assert (await lessons.peek(1)).frozen == "quiz"
    assert (await lessons.lock(1)).frozen
    assert not (await lessons.lock(2)).frozen  # rooms are apart


async def test_an_unsaved_change_is_rolled_back(lessons: LessonStore) -> None:
    with pytest.raises(RuntimeError):
        async with lessons.hold(1) as state:
            state.freeze("oops", 1.0)
            raise RuntimeError("the command failed after changing the copy")
    assert (await lessons.peek(1)).frozen is None


async def test_holders_of_one_room_take_turns(lessons: LessonStore) -> None:
    async def announce(n: int) -> None:
        async with lessons.hold(1) as state:
            before = state.frozen or ""
            await asyncio.sleep(0)  # give the others every chance to interleave
            state.freeze(before + "x", float(n))
            await lessons.save(1, state)

    await asyncio.gather(*(announce(n) for n in range(20)))
    assert (await lessons.peek(1)).frozen == "x" * 20  # no change lost to a concurrent save
