"""The demo state of every process's rooms in Redis (see :mod:`server.demos.presenters`).

Its own module so that a process without Redis never imports the client library. A Redis
error becomes :class:`~server.demos.presenters.StateUnavailable`, which the caller refuses
the command with.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import redis.asyncio as redis
from redis.exceptions import LockError, RedisError

from server.demos.presenters import KEEP_SECONDS, LOCK_SECONDS, WAIT_SECONDS, Held, StateUnavailable
from server.redis_clients import bounded_client

log = logging.getLogger("classroom.demos")


@contextmanager
def _unavailable() -> Iterator[None]:
    try:
        yield
    except RedisError as exc:
        raise StateUnavailable(str(exc)) from exc


class RedisPresenters:
    """Every process's rooms, in Redis under ``{prefix}{room_id}``."""

    def __init__(self, url: str, prefix: str = "classroom:demo:") -> None:
        self._client: redis.Redis = bounded_client(url, socket_connect_timeout=2.0)
        self._prefix = prefix

    @asynccontextmanager
    async def hold(self, room_id: int) -> AsyncIterator[Held]:
        key = f"{self._prefix}{room_id}"
        lock = self._client.lock(f"{key}:lock", timeout=LOCK_SECONDS, blocking_timeout=WAIT_SECONDS)
        with _unavailable():
            acquired = await lock.acquire()
        if not acquired:
            raise TimeoutError(f"room {room_id}: the demo state stayed locked")
        try:
            with _unavailable():
                raw = await self._client.get(key)
            yield Held.from_json(raw, room_id)
        finally:
            try:
                await lock.release()
            except LockError:
                # It expired while we held it: someone else may have changed the room since.
                log.warning("room %s: demo lock expired before release", room_id)
            except RedisError as exc:
                raise StateUnavailable(str(exc)) from exc

    async def save(self, room_id: int, held: Held) -> None:
        with _unavailable():
            await self._client.set(f"{self._prefix}{room_id}", held.to_json(), ex=KEEP_SECONDS)

    async def peek(self, room_id: int) -> Held:
        with _unavailable():
            raw = await self._client.get(f"{self._prefix}{room_id}")
        return Held.from_json(raw, room_id)

    async def close(self) -> None:
        await self._client.aclose()
