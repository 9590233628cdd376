"""The caller's role in a room and pair groups, for opening documents, cached briefly; and the
room's lesson lock (freeze, pair drivers), applied to sockets already open.

When a class opens one link at once, every tab opens a few document sockets within a second;
asking the database for each would queue them all behind the connection pool. An entry lives
``ttl`` seconds, so a role change or a new pair group takes effect within that time. Refusals
(no such room, not a member) are never cached.

The lock (:class:`rooms.documents.LessonLock`) is held in memory per room: read once from the
lesson state (a :class:`LockSource`), then replaced by :meth:`RoomRoles.set_lock`, which the
lesson component calls in every process when a freeze or a driver changes. ``set_lock``
recomputes the access of every open document socket of the room (:meth:`watch`) and flips its
write permission in the document's :class:`~rooms.sync.DocumentSync`: a frozen student's next
update is dropped. The check per frame stays one flag; there is no query per frame.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from rooms.documents import OPEN, Access, DocumentName, LessonLock, access
from server.auth import Caller
from server.classrooms.access import room_access
from server.exceptions import ApiError
from server.models import User
from server.security.visibility import pair_groups
from server.store import Store

RoleAndGroups = tuple[str, frozenset[str]]


class LockSource(Protocol):
    async def lock(self, room_id: int) -> LessonLock:
        """The room's lesson lock as last saved."""
        ...


@dataclass(eq=False)
class OpenSocket:
    """One open document socket: who, which document, and how to change what it may do."""

    room_id: int
    user_id: int
    role: str
    groups: frozenset[str]
    name: DocumentName
    set_writable: Callable[[bool], None]

    def apply(self, lock: LessonLock) -> None:
        allowed = access(
            self.name, role=self.role, user_id=self.user_id, pair_groups=self.groups, lock=lock
        )
        self.set_writable(allowed is Access.WRITE)


class RoomRoles:
    def __init__(
        self,
        store: Store,
        *,
        locks: LockSource | None = None,
        ttl: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.ttl = ttl
        self.clock = clock
        self._locks_source = locks
        self._entries: dict[tuple[int, int], tuple[float, RoleAndGroups]] = {}
        self._names: dict[int, str] = {}  # read with each role, kept while it is
        self._locks: dict[int, LessonLock] = {}
        self._open: dict[int, set[OpenSocket]] = {}

    async def lock(self, room_id: int) -> LessonLock:
        """The room's lesson lock (read from the source once per room and process)."""
        lock = self._locks.get(room_id)
        if lock is None:
            source = self._locks_source
            lock = await source.lock(room_id) if source is not None else OPEN
            lock = self._locks.setdefault(room_id, lock)
        return lock

    def set_lock(self, room_id: int, lock: LessonLock) -> None:
        """The room's lock changed: every open socket of the room gets its new permission."""
        self._locks[room_id] = lock
        for socket in list(self._open.get(room_id, ())):
            socket.apply(lock)

    def watch(self, socket: OpenSocket) -> Callable[[], None]:
        """Keep ``socket`` under the room's lock until the returned function is called. The
        lock known now applies at once (it may have changed since the socket was checked)."""
        sockets = self._open.setdefault(socket.room_id, set())
        sockets.add(socket)
        known = self._locks.get(socket.room_id)
        if known is not None:
            socket.apply(known)

        def unwatch() -> None:
            sockets.discard(socket)
            if not sockets and self._open.get(socket.room_id) is sockets:
                del self._open[socket.room_id]

        return unwatch

    async def regroup(self, room_id: int) -> None:
        """The room's pair groups changed: forget cached roles, and give every open socket of
        the room its groups and permission anew (one query per user with a socket open)."""
        self.forget_room(room_id)
        lock = await self.lock(room_id)
        for socket in list(self._open.get(room_id, ())):
            try:
                socket.role, socket.groups = await self.role_of(room_id, socket.user_id)
            except ApiError:
                socket.set_writable(False)  # no longer a member of the room
                continue
            socket.apply(lock)

    async def lookup(self, room_id: int, caller: Caller) -> RoleAndGroups:
        """(role, pair groups) of ``caller`` in ``room_id``; raises NotFound or Forbidden."""
        return await self.role_of(room_id, caller.user_id)

    async def role_of(self, room_id: int, user_id: int) -> RoleAndGroups:
        key = (room_id, user_id)
        now = self.clock()
        cached = self._entries.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        async with self.store.session() as session:
            room = await room_access(session, room_id, user_id)
            groups = await pair_groups(session, room_id, user_id)
            found = (room.role.value, frozenset(groups))
            user = await session.get(User, user_id)
        if len(self._entries) > 10_000:
            self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
            users = {k[1] for k in self._entries}
            self._names = {k: v for k, v in self._names.items() if k in users}
        self._entries[key] = (now + self.ttl, found)
        if user is not None:
            self._names[user_id] = user.name
        return found

    def name_of(self, user_id: int) -> str | None:
        """The name of ``user_id`` as read with their role (:meth:`role_of` first): at most
        ``ttl`` old while the role is cached, as a rename reaches new sockets."""
        return self._names.get(user_id)

    def forget_user(self, user_id: int) -> None:
        """Drop this process's cached entries of a user (their role just changed)."""
        self._entries = {k: v for k, v in self._entries.items() if k[1] != user_id}

    def forget_room(self, room_id: int) -> None:
        """Drop this process's cached entries of a room (its pair groups just changed)."""
        self._entries = {k: v for k, v in self._entries.items() if k[0] != room_id}
