"""Where a room's :class:`~rooms.lesson.LessonState` lives between commands.

Design note (as :mod:`server.demos.presenters` for demos). Every change is load → apply →
save under the room's lock, so two commands on one room never interleave whatever process
serves them: with Redis the state is ``LessonState.to_dict()`` as JSON under one key per room,
guarded by a short Redis lock; without Redis a dict in memory with an ``asyncio.Lock`` per room.
``hold`` yields a working copy that only an explicit ``save`` keeps, so a refused command
leaves the state as it was. ``lock`` (the permission check's view) reads without the lock.
The Redis store is :class:`~server.lesson.state_redis.RedisLessons`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

from rooms.documents import LessonLock
from rooms.lesson import LessonState

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
