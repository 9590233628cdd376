"""The help queue of a room: ``hand.raise`` / ``hand.lower`` from anyone, ``hand.take`` /
``hand.done`` from staff. Taking is one conditional UPDATE (pending → taken), so when two
assistants take the same hand at once, exactly one wins and the other is told who did.

A user raises at most ``CLASSROOM_HANDS_PER_MINUTE`` hands a minute (``rate_limited``): raising
and lowering in a loop, within the socket's budget, stored 43 hands a second and sent the staff
86 events a second, for as long as the student liked."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select

from rooms.events import Command, EventError, staff_and
from server.events.hub import RoomConnection, RoomHub
from server.models import Hand, HandState, User
from server.models.clock import utcnow
from server.security.ratelimit import RateLimiter
from server.store import Store

OPEN = (HandState.PENDING.value, HandState.TAKEN.value)


def hand_dict(hand: Hand, names: dict[int, str]) -> dict[str, Any]:
    return {
        "id": hand.id,
        "user": {"id": hand.user_id, "name": names.get(hand.user_id, "")},
        "doc": hand.doc,
        "message": hand.message,
        "state": hand.state,
        "taken_by": (
            {"id": hand.taken_by, "name": names.get(hand.taken_by, "")} if hand.taken_by else None
        ),
        "created_at": hand.created_at.isoformat(),
    }


class HelpQueue:
    def __init__(self, store: Store, hub: RoomHub, limiter: RateLimiter | None = None) -> None:
        self.store = store
        self.hub = hub
        self.limiter = limiter
        hub.handle("hand.raise", self.raise_hand)
        hub.handle("hand.lower", self.lower)
        hub.handle("hand.take", self.take)
        hub.handle("hand.done", self.done)
        hub.snapshot_part("hands", self.snapshot)

    async def raise_hand(self, conn: RoomConnection, command: Command) -> None:
        if self.limiter is not None:
            await self.limiter.check_budget("hands-user", str(conn.user_id), "raised hands")
        async with self.store.session() as session:
            mine = await session.exec(
                select(Hand.id).where(
                    Hand.room_id == conn.room_id,
                    Hand.user_id == conn.user_id,
                    col(Hand.state).in_(OPEN),
                )
            )
            if mine.first() is not None:
                raise EventError("already_raised", "your hand is already raised in this room")
            hand = Hand(
                room_id=conn.room_id,
                user_id=conn.user_id,
                doc=command.get("doc"),
                message=(command.get("message") or "").strip(),
            )
            session.add(hand)
            await session.flush()
        await self._announce("hand.raised", hand, conn.room_id)

    async def lower(self, conn: RoomConnection, command: Command) -> None:
        async with self.store.session() as session:
            query = update(Hand).where(
                col(Hand.room_id) == conn.room_id,
                col(Hand.user_id) == conn.user_id,
                col(Hand.state).in_(OPEN),
            )
            if command.get("hand_id") is not None:
                query = query.where(col(Hand.id) == command.get("hand_id"))
            rows = await session.exec(
                query.values(state=HandState.LOWERED.value, closed_at=utcnow()).returning(
                    col(Hand.id)
                )
            )
            lowered = [row[0] for row in rows.all()]
        if not lowered:
            raise EventError("no_hand", "you have no raised hand to lower")
        for hand_id in lowered:
            await self._announce_id("hand.lowered", hand_id, conn.room_id)

    async def lower_all(self, room_id: int, user_ids: list[int]) -> int:
        """Lower the open hands of ``user_ids`` in ``room_id`` (they left the classroom);
        ``hand.lowered`` for each. How many were lowered."""
        async with self.store.session() as session:
            rows = await session.exec(
                update(Hand)
                .where(
                    col(Hand.room_id) == room_id,
                    col(Hand.user_id).in_(user_ids),
                    col(Hand.state).in_(OPEN),
                )
                .values(state=HandState.LOWERED.value, closed_at=utcnow())
                .returning(col(Hand.id))
            )
            lowered = [row[0] for row in rows.all()]
        for hand_id in lowered:
            await self._announce_id("hand.lowered", hand_id, room_id)
        return len(lowered)

    async def take(self, conn: RoomConnection, command: Command) -> None:
        hand_id = command.get("hand_id")
        async with self.store.session() as session:
            result = await session.exec(
                update(Hand)
                .where(
                    col(Hand.id) == hand_id,
                    col(Hand.room_id) == conn.room_id,
                    col(Hand.state) == HandState.PENDING.value,
                )
                .values(state=HandState.TAKEN.value, taken_by=conn.user_id, taken_at=utcnow())
            )
            won = result.rowcount == 1
        if not won:
            await self._refuse(conn.room_id, hand_id, "take")
        await self._announce_id("hand.taken", hand_id, conn.room_id)

    async def done(self, conn: RoomConnection, command: Command) -> None:
        hand_id = command.get("hand_id")
        async with self.store.session() as session:
            result = await session.exec(
                update(Hand)
                .where(
                    col(Hand.id) == hand_id,
                    col(Hand.room_id) == conn.room_id,
                    col(Hand.state).in_(OPEN),
                )
                .values(state=HandState.DONE.value, closed_at=utcnow())
            )
            changed = result.rowcount == 1
        if not changed:
            await self._refuse(conn.room_id, hand_id, "close")
        await self._announce_id("hand.done", hand_id, conn.room_id)

    async def _refuse(self, room_id: int, hand_id: int, verb: str) -> None:
        async with self.store.session() as session:
            hand = await session.get(Hand, hand_id)
            if hand is None or hand.room_id != room_id:
                raise EventError("unknown_hand", f"no hand {hand_id} in this room")
            names = await self._names(session, [hand.taken_by] if hand.taken_by else [])
        if hand.state == HandState.TAKEN.value and hand.taken_by is not None:
            who = names.get(hand.taken_by, "someone")
            raise EventError("already_taken", f"{who} already took this hand")
        raise EventError("hand_closed", f"cannot {verb} a hand that is {hand.state}")

    async def _announce_id(self, kind: str, hand_id: int, room_id: int) -> None:
        async with self.store.session() as session:
            hand = await session.get(Hand, hand_id)
        assert hand is not None
        await self._announce(kind, hand, room_id)

    async def _announce(self, kind: str, hand: Hand, room_id: int) -> None:
        async with self.store.session() as session:
            names = await self._names(session, [hand.user_id, hand.taken_by])
        event = {"type": kind, "hand": hand_dict(hand, names)}
        await self.hub.publish(room_id, staff_and(hand.user_id), event)

    async def _names(self, session: Any, ids: Iterable[int | None]) -> dict[int, str]:
        wanted = {i for i in ids if i is not None}
        if not wanted:
            return {}
        rows = await session.exec(select(User.id, User.name).where(col(User.id).in_(wanted)))
        return dict(rows.all())

    async def snapshot(self, conn: RoomConnection) -> list[dict[str, Any]]:
        """Open hands: all of the room's for staff, one's own for a student."""
        async with self.store.session() as session:
            query = (
                select(Hand)
                .where(Hand.room_id == conn.room_id, col(Hand.state).in_(OPEN))
                .order_by(col(Hand.id))
            )
            if not conn.is_staff:
                query = query.where(Hand.user_id == conn.user_id)
            hands = list((await session.exec(query)).all())
            people = [h.user_id for h in hands] + [h.taken_by for h in hands if h.taken_by]
            names = await self._names(session, people)
        return [hand_dict(h, names) for h in hands]
