"""The lesson state of every process's rooms in Redis (see :mod:`server.lesson.state`).

Its own module so that a process without Redis never imports the client library.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from rooms.documents import LessonLock
from rooms.lesson import LessonState
from server.lesson.state import KEEP_SECONDS, LOCK_SECONDS, WAIT_SECONDS, decode
from server.redis_room_state import RedisRoomState


class RedisLessons:
    """Every process's rooms, in Redis under ``{prefix}{room_id}``."""

    def __init__(self, url: str, prefix: str = "classroom:lesson:") -> None:
        self._rooms = RedisRoomState(
            url,
            prefix,
            "lesson state",
            lock_seconds=LOCK_SECONDS,
            wait_seconds=WAIT_SECONDS,
            keep_seconds=KEEP_SECONDS,
        )

    @asynccontextmanager
    async def hold(self, room_id: int) -> AsyncIterator[LessonState]:
        async with self._rooms.held(room_id) as raw:
            yield decode(raw, room_id)

    async def save(self, room_id: int, state: LessonState) -> None:
        await self._rooms.write(room_id, json.dumps(state.to_dict()))

    async def peek(self, room_id: int) -> LessonState:
        return decode(await self._rooms.read(room_id), room_id)

    async def lock(self, room_id: int) -> LessonLock:
        return (await self.peek(room_id)).lock()

    async def close(self) -> None:
        await self._rooms.close()
