"""The lesson state of every process's rooms in Redis (see :mod:`server.lesson.state`).

Its own module so that a process without Redis never imports the client library.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as redis
from redis.exceptions import LockError

from rooms.documents import LessonLock
from rooms.lesson import LessonState
from server.lesson.state import KEEP_SECONDS, LOCK_SECONDS, WAIT_SECONDS, decode
from server.redis_clients import bounded_client

log = logging.getLogger("classroom.lesson")


class RedisLessons:
    """Every process's rooms, in Redis under ``{prefix}{room_id}``."""

    def __init__(self, url: str, prefix: str = "classroom:lesson:") -> None:
        self._client: redis.Redis = bounded_client(url, socket_connect_timeout=2.0)
        self._prefix = prefix

    @asynccontextmanager
    async def hold(self, room_id: int) -> AsyncIterator[LessonState]:
        key = f"{self._prefix}{room_id}"
        lock = self._client.lock(f"{key}:lock", timeout=LOCK_SECONDS, blocking_timeout=WAIT_SECONDS)
        if not await lock.acquire():
            raise TimeoutError(f"room {room_id}: the lesson state stayed locked")
        try:
            yield decode(await self._client.get(key), room_id)
        finally:
            try:
                await lock.release()
            except LockError:
                log.warning("room %s: lesson lock expired before release", room_id)

    async def save(self, room_id: int, state: LessonState) -> None:
        raw = json.dumps(state.to_dict())
        await self._client.set(f"{self._prefix}{room_id}", raw, ex=KEEP_SECONDS)

    async def peek(self, room_id: int) -> LessonState:
        return decode(await self._client.get(f"{self._prefix}{room_id}"), room_id)

    async def lock(self, room_id: int) -> LessonLock:
        return (await self.peek(room_id)).lock()

    async def close(self) -> None:
        await self._client.aclose()
