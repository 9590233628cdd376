"""The caller's role in a room and pair groups, for opening documents, cached briefly.

When a class opens one link at once, every tab opens a few document sockets within a second;
asking the database for each would queue them all behind the connection pool. An entry lives
``ttl`` seconds, so a role change or a new pair group takes effect within that time. Refusals
(no such room, not a member) are never cached.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlmodel import select

from server.auth import Caller
from server.classrooms.access import room_access
from server.models.pairs import PairMember
from server.store import Store

RoleAndGroups = tuple[str, frozenset[str]]


class RoomRoles:
    def __init__(
        self, store: Store, *, ttl: float = 5.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.store = store
        self.ttl = ttl
        self.clock = clock
        self._entries: dict[tuple[int, int], tuple[float, RoleAndGroups]] = {}

    async def lookup(self, room_id: int, caller: Caller) -> RoleAndGroups:
        """(role, pair groups) of ``caller`` in ``room_id``; raises NotFound or Forbidden."""
        key = (room_id, caller.user_id)
        now = self.clock()
        cached = self._entries.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        async with self.store.session() as session:
            room = await room_access(session, room_id, caller.user_id)
            groups = await session.exec(
                select(PairMember.group).where(
                    PairMember.room_id == room_id, PairMember.user_id == caller.user_id
                )
            )
            found = (room.role.value, frozenset(groups.all()))
        if len(self._entries) > 10_000:
            self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
        self._entries[key] = (now + self.ttl, found)
        return found

    def forget_user(self, user_id: int) -> None:
        """Drop this process's cached entries of a user (their role just changed)."""
        self._entries = {k: v for k, v in self._entries.items() if k[1] != user_id}

    def forget_room(self, room_id: int) -> None:
        """Drop this process's cached entries of a room (its pair groups just changed)."""
        self._entries = {k: v for k, v in self._entries.items() if k[0] != room_id}
