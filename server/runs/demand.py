"""Warm-pool demand of this process's rooms: who may press Run at once, per language.

Design note. A room counts while a lesson is on or a live exercise is open in it: a lesson
is on while one of the room's staff (instructor or assistant) has its events socket open, on
any process (presence), and a live exercise is open from ``exercise.open`` until its
``closes_at``. A counting room adds its students whose events socket is open *on this
process* (each process counts its own sockets, so the processes' figures add up) to each of
the room's languages: those of its open live exercises and of the runs started in it in the
last :data:`RECENT_LANGUAGE_SECONDS`, or Python when neither says.

The figure goes to a :class:`DemandSink`: without Redis straight into the backend's warm pool
(:meth:`sandbox.pool.WarmPool.set_demand`); with Redis
(:class:`~server.runs.demand_redis.RedisSink`) into the hash
``{prefix}pool:demand`` (field: this process, value: :func:`sandbox.demand.encode_demand`),
rewritten every :data:`REFRESH_SECONDS` and on every join and leave, the key expiring after
:data:`~sandbox.demand.DEMAND_TTL_SECONDS`, so a dead server's demand fades; the workers read
it (:mod:`sandbox.demand_reader`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from sqlmodel import col, select

from sandbox.cancellation import raise_if_cancelled
from server.events.hub import RoomConnection, RoomHub
from server.models import ExerciseRecord, LiveExercise, Membership, Room
from server.models.clock import as_utc, utcnow
from server.store import Store

log = logging.getLogger("classroom.runs")

REFRESH_SECONDS = 2.0
RECENT_LANGUAGE_SECONDS = 30 * 60.0
DEFAULT_LANGUAGE = "python"
STAFF_ROLES = ("instructor", "assistant")


@dataclass(frozen=True)
class RoomFacts:
    """What one room adds to the demand."""

    students: int  # students with an events socket open on this process
    on: bool  # a lesson is on or a live exercise is open
    languages: frozenset[str]


def class_demand(rooms: Iterable[RoomFacts]) -> dict[str, int]:
    """Per language, the students of every room that counts (pure)."""
    demand: dict[str, int] = {}
    for room in rooms:
        if not room.on or room.students <= 0:
            continue
        for language in room.languages or {DEFAULT_LANGUAGE}:
            demand[language] = demand.get(language, 0) + room.students
    return demand


class DemandSink(Protocol):
    async def publish(self, demand: Mapping[str, int]) -> None: ...

    async def close(self) -> None: ...


class PoolSink:
    """This process's own backend (no Redis)."""

    def __init__(self, set_demand: Callable[[Mapping[str, int]], None]) -> None:
        self._set_demand = set_demand

    async def publish(self, demand: Mapping[str, int]) -> None:
        self._set_demand(demand)

    async def close(self) -> None:
        self._set_demand({})


def demand_key(prefix: str) -> str:
    return f"{prefix}pool:demand"


class PoolDemand:
    """Keeps the sink told of this process's demand; see the module note."""

    def __init__(self, store: Store, hub: RoomHub) -> None:
        self.store = store
        self.hub = hub
        self.sink: DemandSink | None = None
        self.current: dict[str, int] = {}
        self._recent: dict[int, dict[str, float]] = {}  # room → language → last run (monotonic)
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        hub.on_join(self._touched)
        hub.on_leave(self._touched)

    async def start(self, sink: DemandSink | None) -> None:
        self.sink = sink
        if sink is not None:
            self._task = asyncio.create_task(self._publish_forever(), name="pool-demand")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self.sink is not None:
            await self.sink.close()

    def saw_run(self, room_id: int, language: str) -> None:
        """A run of ``language`` started in the room: its language is the room's for a while.
        The demand is measured again only when that adds a language to the room: a class
        running every few seconds made one measure (a query per room) per run."""
        now = time.monotonic()
        recent = self._recent.setdefault(room_id, {})
        last = recent.get(language)
        recent[language] = now
        if last is None or last < now - RECENT_LANGUAGE_SECONDS:
            self.changed()

    def changed(self) -> None:
        """Something the demand depends on changed (a live exercise opened, ...)."""
        self._changed.set()

    async def _touched(self, _conn: RoomConnection) -> None:
        self._changed.set()

    async def _publish_forever(self) -> None:
        assert self.sink is not None
        while True:
            raise_if_cancelled()
            self._changed.clear()
            try:
                self.current = await self.measure()
                await self.sink.publish(self.current)
            except Exception:  # a task boundary: the next round tries again
                log.warning("measuring the warm-pool demand failed", exc_info=True)
            try:
                async with asyncio.timeout(REFRESH_SECONDS):
                    await self._changed.wait()
            except TimeoutError:
                pass

    async def measure(self) -> dict[str, int]:
        """This process's demand now."""
        facts = [await self._facts(room_id) for room_id in self.hub.rooms()]
        return class_demand(facts)

    async def _facts(self, room_id: int) -> RoomFacts:
        conns = self.hub.local(room_id)
        students = len({c.user_id for c in conns if not c.is_staff})
        staff_here = any(c.is_staff for c in conns)
        now = utcnow()
        async with self.store.session() as session:
            live = await session.exec(
                select(ExerciseRecord.language, LiveExercise.closes_at)
                .join(Room, col(Room.classroom_id) == col(ExerciseRecord.classroom_id))
                .join(
                    LiveExercise,
                    (col(LiveExercise.room_id) == col(Room.id))
                    & (col(LiveExercise.exercise_id) == col(ExerciseRecord.exercise_id)),
                )
                .where(Room.id == room_id)
            )
            languages = {language for language, closes in live.all() if as_utc(closes) > now}
            on = bool(languages) or staff_here
            if not on and students:
                online = await self.hub.presence.online(room_id)
                staff = await session.exec(
                    select(Membership.user_id)
                    .join(Room, col(Room.classroom_id) == col(Membership.classroom_id))
                    .where(Room.id == room_id, col(Membership.role).in_(STAFF_ROLES))
                )
                on = bool(online & set(staff.all()))
        cutoff = time.monotonic() - RECENT_LANGUAGE_SECONDS
        recent = self._recent.get(room_id, {})
        for language, at in list(recent.items()):
            if at < cutoff:
                del recent[language]
        return RoomFacts(students, on, frozenset(languages | set(recent)))
