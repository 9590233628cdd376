"""``Lesson``: the lesson controls of every room, on the events socket and over HTTP.

Design note. A command is checked by :func:`rooms.events.parse_command` (fields and role: only
instructors), then applied to the room's :class:`~rooms.lesson.LessonState` under its lock
(:mod:`server.lesson.state`), saved, and only then told: the ``(Audience, event)`` pairs go out
through :meth:`RoomHub.publish_all`. A change of the lock (freeze, drivers, pair groups) is
also published on the bus channel ``lesson``: every process hands it to its
:class:`~server.documents.access.RoomRoles`, which flips the write permission of the document
sockets it has open, so the server, not the page, enforces a freeze or a navigator's
read-only view. A rotation timer is checked once a second by each process for the rooms it
has seen paired; the check and the rotation happen under the room's lock, so two processes
never rotate twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlmodel import col, select

from rooms.documents import DocKind, LessonLock, parse_document_name
from rooms.events import Command, EventError, Outgoing
from rooms.exceptions import InvalidDocumentName
from rooms.lesson import LessonState, Spotlight
from server.bus import Bus, Subscription
from server.documents.access import RoomRoles
from server.documents.registry import DocumentRegistry
from server.events.hub import RoomConnection, RoomHub
from server.lesson import pairs as pairing
from server.lesson.push import checked_files, push_to_students
from server.lesson.state import LessonStore
from server.models import Membership, Room, User
from server.store import Store

log = logging.getLogger("classroom.lesson")

CHANNEL = "lesson"
COMMANDS = (
    "lesson.spotlight",
    "lesson.push",
    "lesson.freeze",
    "lesson.unfreeze",
    "lesson.announce",
    "lesson.countdown",
    "pairs.make",
    "pairs.rotate",
    "pairs.repair",
)


@dataclass(frozen=True)
class Actor:
    user_id: int
    role: str


class Lesson:
    def __init__(
        self,
        store: Store,
        hub: RoomHub,
        docs: DocumentRegistry,
        *,
        roles: RoomRoles,
        bus: Bus,
        lessons: LessonStore,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.hub = hub
        self.docs = docs
        self.roles = roles
        self.bus = bus
        self.lessons = lessons
        self.clock = clock
        self.rng = rng or random.Random()
        self._origin = uuid.uuid4().hex
        self._timed: set[int] = set()
        self._subscription: Subscription | None = None
        self._tasks: list[asyncio.Task[None]] = []
        for kind in COMMANDS:
            hub.handle(kind, self._on_socket)
        hub.snapshot_part("lesson", self._snapshot)

    async def start(self) -> None:
        self._subscription = await self.bus.subscribe(CHANNEL)
        self._tasks = [
            asyncio.create_task(self._listen(self._subscription), name="lesson-locks"),
            asyncio.create_task(self._rotations(), name="lesson-rotations"),
        ]

    async def close(self) -> None:
        if self._subscription is not None:
            await self._subscription.close()
        for task in self._tasks:
            task.cancel()
        await self.lessons.close()

    # -- entry points ----------------------------------------------------------------

    async def _on_socket(self, conn: RoomConnection, command: Command) -> None:
        reply = await self.run(conn.room_id, Actor(conn.user_id, conn.role), command)
        if command.ref is not None:
            reply["ref"] = command.ref
        conn.send(reply)

    async def _snapshot(self, conn: RoomConnection) -> dict[str, Any]:
        state = await self.lessons.peek(conn.room_id)
        view = state.view(self.clock(), staff=conn.is_staff)
        view["pair"] = next((p.to_dict() for p in state.pairs if conn.user_id in p.members), None)
        return view

    async def run(self, room_id: int, actor: Actor, command: Command) -> dict[str, Any]:
        """Apply one checked command; the reply for the sender. Raises EventError to refuse."""
        kind = command.type
        log.info("room %s: %s by user %s (%s)", room_id, kind, actor.user_id, actor.role)
        if kind == "lesson.push":
            return await self._push(room_id, command)
        if kind in ("pairs.make", "pairs.repair"):
            return await self._regroup(room_id, command)
        spotlight = await self._spotlight(room_id, command) if kind == "lesson.spotlight" else None
        now = self.clock()
        async with self.lessons.hold(room_id) as state:
            before = state.lock()
            try:
                out = self._apply(state, command, now, spotlight)
            except ValueError as exc:
                raise EventError("invalid_field", f"{kind}: {exc}") from None
            await self.lessons.save(room_id, state)
        if state.lock() != before:
            await self._share_lock(room_id, state.lock(), regroup=False)
        await self.hub.publish_all(room_id, out)
        return {"type": "lesson.done", "command": kind, "lesson": state.view(now, staff=True)}

    def _apply(
        self,
        state: LessonState,
        command: Command,
        now: float,
        spotlight: Spotlight | None,
    ) -> list[Outgoing]:
        kind = command.type
        if kind == "lesson.spotlight":
            return state.set_spotlight(spotlight)
        if kind == "lesson.freeze":
            return state.freeze(command.get("reason", ""), now)
        if kind == "lesson.unfreeze":
            return state.unfreeze()
        if kind == "lesson.announce":
            return state.announce(command.get("text", ""), now)
        if kind == "lesson.countdown":
            return state.start_countdown(command.get("seconds"), now)
        if kind == "pairs.rotate":
            if not state.pairs:
                raise EventError("no_pairs", "pairs.rotate: the room has no pairs")
            return state.rotate(now)
        raise EventError("unavailable", f"{kind} is not available on this server")

    # -- spotlight and push ----------------------------------------------------------

    async def _spotlight(self, room_id: int, command: Command) -> Spotlight | None:
        user_id, doc = command.get("user_id"), command.get("doc")
        if user_id is None and doc is None:
            return None
        if user_id is None or doc is None:
            raise EventError("invalid_field", "lesson.spotlight: give both user_id and doc")
        try:
            name = parse_document_name(doc)
        except InvalidDocumentName as exc:
            raise EventError("invalid_field", f"lesson.spotlight: {exc}") from None
        state = await self.lessons.peek(room_id)
        theirs = (name.kind is DocKind.STUDENT and name.owner_user_id == user_id) or (
            name.kind is DocKind.PAIR
            and any(p.group == name.owner and user_id in p.members for p in state.pairs)
        )
        if not theirs:
            raise EventError("invalid_field", f"lesson.spotlight: {doc} is not a file of {user_id}")
        async with self.store.session() as session:
            room = await session.get(Room, room_id)
            assert room is not None
            row = (
                await session.exec(
                    select(User.name)
                    .join(Membership, col(Membership.user_id) == User.id)
                    .where(Membership.classroom_id == room.classroom_id, User.id == user_id)
                )
            ).first()
        if row is None:
            raise EventError("not_a_member", f"lesson.spotlight: {user_id} is not in this class")
        return Spotlight(user_id, doc, row, show_name=command.get("show_name", True))

    async def _push(self, room_id: int, command: Command) -> dict[str, Any]:
        files = checked_files(command.get("files") or {})
        students = await pairing.students_of(self.store, room_id)
        result = await push_to_students(
            self.docs,
            room_id,
            students,
            files,
            only_empty=bool(command.get("only_empty", False)),
            now=self.clock(),
        )
        log.info("room %s: pushed %s to %d students", room_id, sorted(files), len(students))
        return {
            "type": "lesson.pushed",
            "files": sorted(files),
            "students": len(students),
            "written": result.written,
            "skipped": result.skipped,
        }

    # -- pairs -----------------------------------------------------------------------

    async def _regroup(self, room_id: int, command: Command) -> dict[str, Any]:
        """``pairs.make`` (a new pairing) or ``pairs.repair`` (partners who left replaced)."""
        online = await self.hub.presence.online(room_id)
        now = self.clock()
        async with self.lessons.hold(room_id) as state:
            if command.type == "pairs.make":
                out = await pairing.make(
                    self.store,
                    self.docs,
                    state,
                    room_id=room_id,
                    command=command,
                    online=online,
                    rng=self.rng,
                    now=now,
                )
            else:
                out = await pairing.repair_pairs(
                    self.store, state, room_id=room_id, online=online, rng=self.rng, now=now
                )
            await self.lessons.save(room_id, state)
        if state.rotate_every:
            self._timed.add(room_id)
        await self._share_lock(room_id, state.lock(), regroup=True)
        await self.hub.publish_all(room_id, out)
        view = state.view(now, staff=True)
        return {"type": "lesson.done", "command": command.type, "lesson": view}

    async def _rotations(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            for room_id in list(self._timed):
                try:
                    await self._rotate_if_due(room_id)
                except Exception:
                    log.error("room %s: pair rotation failed", room_id, exc_info=True)

    async def _rotate_if_due(self, room_id: int) -> None:
        if not (await self.lessons.peek(room_id)).rotation_due(self.clock()):
            return
        now = self.clock()
        async with self.lessons.hold(room_id) as state:
            if not state.rotation_due(now):
                return
            out = state.rotate(now)
            await self.lessons.save(room_id, state)
        await self._share_lock(room_id, state.lock(), regroup=False)
        await self.hub.publish_all(room_id, out)

    # -- the lock in every process ---------------------------------------------------

    async def _share_lock(self, room_id: int, lock: LessonLock, *, regroup: bool) -> None:
        await self._apply_lock(room_id, lock, regroup)
        message = {
            "origin": self._origin,
            "room_id": room_id,
            "frozen": lock.frozen,
            "drivers": dict(lock.drivers),
            "regroup": regroup,
        }
        try:
            await self.bus.publish(CHANNEL, json.dumps(message).encode())
        except Exception as exc:
            log.warning("room %s: lesson lock not published on the bus: %s", room_id, exc)

    async def _apply_lock(self, room_id: int, lock: LessonLock, regroup: bool) -> None:
        self.roles.set_lock(room_id, lock)
        if regroup:
            await self.roles.regroup(room_id)
        if lock.drivers:
            self._timed.add(room_id)

    async def _listen(self, subscription: Subscription) -> None:
        async for raw in subscription:
            try:
                message = json.loads(raw)
                if message["origin"] == self._origin:
                    continue
                drivers = {str(k): int(v) for k, v in message["drivers"].items()}
                lock = LessonLock(frozen=bool(message["frozen"]), drivers=drivers)
                await self._apply_lock(int(message["room_id"]), lock, bool(message["regroup"]))
            except Exception:
                log.error("bad lesson message dropped", exc_info=True)
