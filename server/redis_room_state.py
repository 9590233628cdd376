"""One value per room in Redis, changed under a short Redis lock: what the demo and lesson
stores (:mod:`server.demos.presenters_redis`, :mod:`server.lesson.state_redis`) share.

Imported only by them, so only by a process with a Redis URL.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as redis
from redis.exceptions import LockError

from server.redis_clients import bounded_client

log = logging.getLogger("classroom.redis")


class RedisRoomState:
    """Each room's value under ``{prefix}{room_id}``; ``what`` names it in errors and logs."""

    def __init__(
        self,
        url: str,
        prefix: str,
        what: str,
        *,
        lock_seconds: float,
        wait_seconds: float,
        keep_seconds: int,
    ) -> None:
        self._client: redis.Redis = bounded_client(url, socket_connect_timeout=2.0)
        self._prefix = prefix
        self._what = what
        self._lock_seconds = lock_seconds
        self._wait_seconds = wait_seconds
        self._keep_seconds = keep_seconds

    @asynccontextmanager
    async def held(self, room_id: int) -> AsyncIterator[str | bytes | None]:
        """The room's value as last written, the room locked for the block (a holder that
        crashed frees it after ``lock_seconds``); TimeoutError after ``wait_seconds``."""
        key = f"{self._prefix}{room_id}"
        lock = self._client.lock(
            f"{key}:lock", timeout=self._lock_seconds, blocking_timeout=self._wait_seconds
        )
        if not await lock.acquire():
            raise TimeoutError(f"room {room_id}: the {self._what} stayed locked")
        try:
            yield await self._client.get(key)
        finally:
            try:
                await lock.release()
            except LockError:
                # It expired while we held it: someone else may have changed the room since.
                log.warning("room %s: the %s's lock expired before release", room_id, self._what)

    async def write(self, room_id: int, raw: str) -> None:
        """Keep ``raw`` as the room's value; every write renews its ``keep_seconds``."""
        await self._client.set(f"{self._prefix}{room_id}", raw, ex=self._keep_seconds)

    async def read(self, room_id: int) -> str | bytes | None:
        """The room's value as last written, without the lock."""
        value: str | bytes | None = await self._client.get(f"{self._prefix}{room_id}")
        return value

    async def close(self) -> None:
        await self._client.aclose()
