"""The demo state of every process's rooms in Redis (see :mod:`server.demos.presenters`).

Its own module so that a process without Redis never imports the client library. A Redis
error becomes :class:`~server.demos.presenters.StateUnavailable`, which the caller refuses
the command with.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

from redis.exceptions import RedisError

from server.demos.presenters import KEEP_SECONDS, LOCK_SECONDS, WAIT_SECONDS, Held, StateUnavailable
from server.redis_room_state import RedisRoomState


@contextmanager
def _unavailable() -> Iterator[None]:
    try:
        yield
    except RedisError as exc:
        raise StateUnavailable(str(exc)) from exc


class RedisPresenters:
    """Every process's rooms, in Redis under ``{prefix}{room_id}``."""

    def __init__(self, url: str, prefix: str = "classroom:demo:") -> None:
        self._rooms = RedisRoomState(
            url,
            prefix,
            "demo state",
            lock_seconds=LOCK_SECONDS,
            wait_seconds=WAIT_SECONDS,
            keep_seconds=KEEP_SECONDS,
        )

    @asynccontextmanager
    async def hold(self, room_id: int) -> AsyncIterator[Held]:
        # A Redis error inside the block too (the caller's saves): the command is refused.
        with _unavailable():
            async with self._rooms.held(room_id) as raw:
                yield Held.from_json(raw, room_id)

    async def save(self, room_id: int, held: Held) -> None:
        with _unavailable():
            await self._rooms.write(room_id, held.to_json())

    async def peek(self, room_id: int) -> Held:
        with _unavailable():
            raw = await self._rooms.read(room_id)
        return Held.from_json(raw, room_id)

    async def close(self) -> None:
        await self._rooms.close()
