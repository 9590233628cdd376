"""Where a room's :class:`~rooms.demos.presenter.Presenter` lives between commands.

Design note. Every change is load → apply → save under the room's lock, so two commands on
the same room never interleave, whatever process serves them: with Redis the state is
``Presenter.to_dict()`` (and the session id) under one key per room, guarded by a short Redis
lock; without Redis it is a dict in memory with an ``asyncio.Lock`` per room. ``hold`` gives
a working copy; only an explicit ``save`` inside the block keeps it, so a refused or failed
command leaves the state as it was, and the caller can save *before* telling anyone. The
caller drains the presenter's records before saving (``to_dict`` leaves them out), which is
why only the process that applied a change stores them. The Redis store is
:class:`~server.demos.presenters_redis.RedisPresenters`.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from rooms.demos.exceptions import DemoError
from rooms.demos.presenter import Presenter

log = logging.getLogger("classroom.demos")

LOCK_SECONDS = 5.0  # longer than any apply; a crashed holder frees the room after this
WAIT_SECONDS = 10.0
KEEP_SECONDS = 12 * 3600  # an abandoned room's state goes away; every change renews it


class StateUnavailable(Exception):
    """The shared state could not be read or written (Redis away): the command is refused and
    may be tried again."""


@dataclass
class Held:
    """A room's presenter and the DemoSession row of the demo it presents (None when idle)."""

    presenter: Presenter
    session_id: int | None = None

    def to_json(self) -> str:
        return json.dumps({"presenter": self.presenter.to_dict(), "session_id": self.session_id})

    @classmethod
    def from_json(cls, raw: str | bytes | None, room_id: int) -> Held:
        if raw is None:
            return cls(Presenter())
        try:
            data: dict[str, Any] = json.loads(raw)
            return cls(Presenter.from_dict(data["presenter"]), data["session_id"])
        except (ValueError, KeyError, TypeError, DemoError) as exc:
            # State this code cannot read (written by another version, or damaged) must not
            # block the room forever: start over, and say so.
            log.error("room %s: unreadable demo state dropped: %s", room_id, exc)
            return cls(Presenter())


class PresenterStore(Protocol):
    def hold(self, room_id: int) -> AbstractAsyncContextManager[Held]:
        """A working copy of the room's state, the room locked for the block."""
        ...

    async def save(self, room_id: int, held: Held) -> None:
        """Keep ``held`` as the room's state (inside its ``hold`` block)."""
        ...

    async def peek(self, room_id: int) -> Held:
        """The room's state as last saved, without the lock (for reading only)."""
        ...

    async def close(self) -> None: ...


class MemoryPresenters:
    """One process's rooms. A command works on a copy that replaces the state only when it
    succeeds, so a failed command is rolled back exactly as with Redis. The definition is
    immutable and shared by the copies (copying it would cost more than the rest)."""

    def __init__(self) -> None:
        self._rooms: dict[int, Held] = {}
        self._locks: dict[int, asyncio.Lock] = {}

    @asynccontextmanager
    async def hold(self, room_id: int) -> AsyncIterator[Held]:
        lock = self._locks.setdefault(room_id, asyncio.Lock())
        async with lock:
            current = self._rooms.get(room_id) or Held(Presenter())
            demo = current.presenter.demo
            yield copy.deepcopy(current, {id(demo): demo} if demo is not None else None)

    async def save(self, room_id: int, held: Held) -> None:
        self._rooms[room_id] = held

    async def peek(self, room_id: int) -> Held:
        return self._rooms.get(room_id) or Held(Presenter())

    async def close(self) -> None:
        return None
