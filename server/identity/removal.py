"""Taking a member out of a classroom: a fake classmate made with the join code, a student who
left the course, an assistant whose term ended.

The membership row goes; everything the person made stays (submissions, runs, documents, the XP
ledger), for the record and for integrity reviews, and is shown again if they are let back in
(a roster import, an LMS launch). What a removal changes at once, on every process:

- their open sockets close with 1012 (``your access changed (removed)``), and each command of
  a socket still open is checked against the membership anyway (server/classrooms/access.py);
  their reconnect is refused;
- the classroom's boards (each room's, this week's) are rebuilt from the ledger without them
  and sent to every room as a ``leaderboard.update`` with ``"moved": null``;
- their raised hands in the classroom's rooms are lowered (``hand.lowered`` to the staff);
- the class grid, analytics and the gradebook, which list members, no longer show them.

An LMS roster sync that drops a member (server/lti/nrps.py) has the same effects, through
:meth:`MemberRemoval.departed`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlmodel import col, select

from rooms.events import ROOM_AUDIENCE
from rooms.leaderboard import BoardId
from server.events.hub import RoomHub
from server.exceptions import BadRequest, Conflict, NotFound
from server.hands.queue import HelpQueue
from server.identity.merge import Rebuild
from server.models import Classroom, Membership, Room
from server.models.clock import utcnow
from server.store import Store

log = logging.getLogger("classroom.identity")

Standings = Callable[[BoardId], Awaitable[dict[str, Any]]]
Announce = Callable[[int, str], Awaitable[None]]


class MemberRemoval:
    def __init__(
        self,
        store: Store,
        hub: RoomHub,
        hands: HelpQueue,
        *,
        rebuild: Rebuild,
        standings: Standings,
        announce: Announce,
    ) -> None:
        self.store = store
        self.hub = hub
        self.hands = hands
        self.rebuild = rebuild
        self.standings = standings
        self.announce = announce

    async def remove(self, classroom_id: int, user_id: int, by_user_id: int) -> dict[str, Any]:
        """Delete ``user_id``'s membership of ``classroom_id`` (the caller checked that
        ``by_user_id`` is one of its instructors), then :meth:`departed`."""
        if user_id == by_user_id:
            raise BadRequest("you cannot remove yourself from a classroom", code="own_membership")
        async with self.store.session() as session:
            classroom = await session.get(Classroom, classroom_id)
            assert classroom is not None
            if classroom.owner_id == user_id:
                raise Conflict(
                    "the classroom's owner cannot be removed from it", code="classroom_owner"
                )
            membership = (
                await session.exec(
                    select(Membership).where(
                        Membership.classroom_id == classroom_id, Membership.user_id == user_id
                    )
                )
            ).first()
            if membership is None:
                raise NotFound(
                    f"user {user_id} is not a member of this classroom", code="not_a_member"
                )
            role = membership.role
            await session.delete(membership)
        log.info(
            "classroom %s: user %s (%s) removed by user %s", classroom_id, user_id, role, by_user_id
        )
        lowered = await self.departed(classroom_id, [user_id])
        return {"classroom_id": classroom_id, "user_id": user_id, "role": role, **lowered}

    async def departed(self, classroom_id: int, user_ids: list[int]) -> dict[str, int]:
        """What follows the deletion of ``user_ids``' memberships of ``classroom_id``, already
        committed: their sockets, their hands, the classroom's boards."""
        if not user_ids:
            return {"hands_lowered": 0}
        for user_id in user_ids:
            await self.announce(user_id, "removed")
        async with self.store.session() as session:
            rooms = [
                r
                for r in (
                    await session.exec(
                        select(Room.id)
                        .where(Room.classroom_id == classroom_id)
                        .order_by(col(Room.id))
                    )
                ).all()
                if r is not None
            ]
        lowered = 0
        for room_id in rooms:
            lowered += await self.hands.lower_all(room_id, user_ids)
        weekly = BoardId.weekly(classroom_id, utcnow())
        await self.rebuild(weekly)
        week = await self.standings(weekly)
        for room_id in rooms:
            board = BoardId.room(room_id)
            await self.rebuild(board)
            for standing in (await self.standings(board), week):
                event = {"type": "leaderboard.update", **standing, "moved": None}
                await self.hub.publish(room_id, ROOM_AUDIENCE, event)
        return {"hands_lowered": lowered}
