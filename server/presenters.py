"""Where a room's :class:`~rooms.demos.presenter.Presenter` lives between commands.

Design note. Every change is load → apply → save under the room's lock, so two commands on
the same room never interleave, whatever process serves them: with Redis the state is
``Presenter.to_dict()`` (and the session id) under one key per room, guarded by a short Redis
lock; without Redis it is a dict in memory with an ``asyncio.Lock`` per room. The state is
saved only when the block ends without an error, so a refused or failed command leaves it as
it was. The caller drains the presenter's records inside the block (``to_dict`` leaves them
out), which is why only the process that applied a change stores them.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import redis.asyncio as redis
from redis.exceptions import LockError

from rooms.demos.presenter import Presenter

log = logging.getLogger("classroom.demos")

LOCK_SECONDS = 5.0  # longer than any apply; a crashed holder frees the room after this
WAIT_SECONDS = 10.0
KEEP_SECONDS = 12 * 3600  # an abandoned room's state goes away; every change renews it


@dataclass
class Held:
    """A room's presenter and the DemoSession row of the demo it presents (None when idle)."""

    presenter: Presenter
    session_id: int | None = None

    def to_json(self) -> str:
        return json.dumps({"presenter": self.presenter.to_dict(), "session_id": self.session_id})

    @classmethod
    def from_json(cls, raw: str | bytes | None) -> Held:
        if raw is None:
            return cls(Presenter())
        data: dict[str, Any] = json.loads(raw)
        return cls(Presenter.from_dict(data["presenter"]), data["session_id"])


class PresenterStore(Protocol):
    def hold(self, room_id: int) -> AbstractAsyncContextManager[Held]:
        """The room's state, locked; saved when the block ends without an error."""
        ...

    async def peek(self, room_id: int) -> Held:
        """The room's state as last saved, without the lock (for reading only)."""
        ...

    async def close(self) -> None: ...


class MemoryPresenters:
    """One process's rooms. The saved form is the same JSON Redis would hold, so a failed
    command is rolled back by not saving, exactly as with Redis."""

    def __init__(self) -> None:
        self._saved: dict[int, str] = {}
        self._locks: dict[int, asyncio.Lock] = {}

    @asynccontextmanager
    async def hold(self, room_id: int) -> AsyncIterator[Held]:
        lock = self._locks.setdefault(room_id, asyncio.Lock())
        async with lock:
            held = Held.from_json(self._saved.get(room_id))
            yield held
            self._saved[room_id] = held.to_json()

    async def peek(self, room_id: int) -> Held:
        return Held.from_json(self._saved.get(room_id))

    async def close(self) -> None:
        return None


class RedisPresenters:
    """Every process's rooms, in Redis under ``{prefix}{room_id}``."""

    def __init__(self, url: str, prefix: str = "classroom:demo:") -> None:
        self._client: redis.Redis = redis.Redis.from_url(url, socket_connect_timeout=2.0)
        self._prefix = prefix

    @asynccontextmanager
    async def hold(self, room_id: int) -> AsyncIterator[Held]:
        key = f"{self._prefix}{room_id}"
        lock = self._client.lock(f"{key}:lock", timeout=LOCK_SECONDS, blocking_timeout=WAIT_SECONDS)
        if not await lock.acquire():
            raise TimeoutError(f"room {room_id}: the demo state stayed locked")
        try:
            held = Held.from_json(await self._client.get(key))
            yield held
            await self._client.set(key, held.to_json(), ex=KEEP_SECONDS)
        finally:
            try:
                await lock.release()
            except LockError:
                # It expired while we held it: someone else may have changed the room since.
                log.warning("room %s: demo lock expired before release", room_id)

    async def peek(self, room_id: int) -> Held:
        return Held.from_json(await self._client.get(f"{self._prefix}{room_id}"))

    async def close(self) -> None:
        await self._client.aclose()
