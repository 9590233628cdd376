"""Where a room's :class:`~rooms.lesson.LessonState` lives between commands.

Design note (as :mod:`server.demos.presenters` for demos). Every change is load → apply →
save under the room's lock, so two commands on one room never interleave whatever process
serves them: with Redis the state is ``LessonState.to_dict()`` as JSON under one key per room,
guarded by a short Redis lock; without Redis a dict in memory with an ``asyncio.Lock`` per room.
``hold`` yields a working copy that only an explicit ``save`` keeps, so a refused command
leaves the state as it was. ``lock`` (the permission check's view) reads without the lock.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

import redis.asyncio as redis
from redis.exceptions import LockError

from rooms.documents import LessonLock
from rooms.lesson import LessonState
from server.redis_clients import bounded_client

log = logging.getLogger("classroom.lesson")

LOCK_SECONDS = 5.0
WAIT_SECONDS = 10.0
KEEP_SECONDS = 12 * 3600  # an abandoned room's lesson state goes away; every change renews it


def decode(raw: str | bytes | None, room_id: int) -> LessonState:
    if raw is None:
        return LessonState()
    try:
        return LessonState.from_dict(json.loads(raw))
    except (ValueError, KeyError, TypeError) as exc:
        # State this code cannot read must not block the room forever: start over, and say so.
        log.error("room %s: unreadable lesson state dropped: %s", room_id, exc)
        return LessonState()


class LessonStore(Protocol):
    def hold(self, room_id: int) -> AbstractAsyncContextManager[LessonState]:
        """A working copy of the room's state, the room locked for the block."""
        ...

    async def save(self, room_id: int, state: LessonState) -> None:
        """Keep ``state`` (inside its ``hold`` block)."""
        ...

    async def peek(self, room_id: int) -> LessonState:
        """The state as last saved, without the lock (for reading only)."""
        ...

    async def lock(self, room_id: int) -> LessonLock: ...

    async def close(self) -> None: ...


class MemoryLessons:
    """One process's rooms."""

    def __init__(self) -> None:
        self._rooms: dict[int, LessonState] = {}
        self._locks: dict[int, asyncio.Lock] = {}

    @asynccontextmanager
    async def hold(self, room_id: int) -> AsyncIterator[LessonState]:
        async with self._locks.setdefault(room_id, asyncio.Lock()):
            yield (self._rooms.get(room_id) or LessonState()).copy()

    async def save(self, room_id: int, state: LessonState) -> None:
        self._rooms[room_id] = state

    async def peek(self, room_id: int) -> LessonState:
        return self._rooms.get(room_id) or LessonState()

    async def lock(self, room_id: int) -> LessonLock:
        return (await self.peek(room_id)).lock()

    async def close(self) -> None:
        return None


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
