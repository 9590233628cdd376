"""Pairing a room's online students: skill scores from the database, the pair groups stored
(``pair_members``, what the document check reads), each pair's files seeded from the
exercise's starter code. The pairing itself is pure (:mod:`rooms.pairing`)."""

from __future__ import annotations

import random
from collections.abc import Collection
from typing import Any

from sqlalchemy import func
from sqlmodel import col, delete, select

from rooms.events import Command, EventError, Outgoing
from rooms.lesson import LessonState
from rooms.pairing import Candidate, Pair, PairingError, Strategy, make_pairs, repair
from server.documents.registry import DocumentRegistry
from server.lesson.push import push_text
from server.models import ExerciseRecord, Membership, PairMember, Progress, Room, XpEvent
from server.store import Store

MAX_ROTATE_MINUTES = 120
PASS_WEIGHT = 20.0  # a passed exercise counts as much as 20 XP in the skill score


async def classroom_of(store: Store, room_id: int) -> int:
    async with store.session() as session:
        room = await session.get(Room, room_id)
        assert room is not None
        return room.classroom_id


async def students_of(store: Store, room_id: int) -> list[int]:
    """The students of the room's classroom, by id."""
    classroom_id = await classroom_of(store, room_id)
    async with store.session() as session:
        rows = await session.exec(
            select(Membership.user_id)
            .where(Membership.classroom_id == classroom_id, Membership.role == "student")
            .order_by(col(Membership.user_id))
        )
        return list(rows.all())


async def skill_scores(store: Store, classroom_id: int, users: Collection[int]) -> dict[int, float]:
    """XP earned in the classroom plus :data:`PASS_WEIGHT` per exercise passed."""
    scores = dict.fromkeys(users, 0.0)
    async with store.session() as session:
        xp = await session.exec(
            select(XpEvent.user_id, func.sum(XpEvent.amount))
            .where(XpEvent.classroom_id == classroom_id, col(XpEvent.user_id).in_(users))
            .group_by(col(XpEvent.user_id))
        )
        for uid, amount in xp.all():
            scores[uid] += float(amount or 0)
        passed = await session.exec(
            select(Progress.user_id, func.count())
            .where(
                Progress.classroom_id == classroom_id,
                col(Progress.passed).is_(True),
                col(Progress.user_id).in_(users),
            )
            .group_by(col(Progress.user_id))
        )
        for uid, count in passed.all():
            scores[uid] += PASS_WEIGHT * count
    return scores


async def _starter(store: Store, classroom_id: int, exercise_id: str | None) -> dict[str, str]:
    if exercise_id is None:
        return {}
    async with store.session() as session:
        record = (
            await session.exec(
                select(ExerciseRecord).where(
                    ExerciseRecord.classroom_id == classroom_id,
                    ExerciseRecord.exercise_id == exercise_id,
                )
            )
        ).first()
    if record is None:
        raise EventError("unknown_exercise", f"pairs.make: no exercise {exercise_id!r}")
    starter: dict[str, Any] = record.definition.get("starter") or {}
    return {str(k): str(v) for k, v in starter.items()}


async def _store_groups(store: Store, room_id: int, pairs: list[Pair]) -> None:
    async with store.session() as session:
        await session.exec(delete(PairMember).where(col(PairMember.room_id) == room_id))
        for pair in pairs:
            for uid in pair.members:
                session.add(PairMember(room_id=room_id, group=pair.group, user_id=uid))


async def make(
    store: Store,
    docs: DocumentRegistry,
    state: LessonState,
    *,
    room_id: int,
    command: Command,
    online: Collection[int],
    rng: random.Random,
    now: float,
) -> list[Outgoing]:
    """A new pairing of every online student; raises EventError to refuse."""
    try:
        strategy = Strategy(command.get("strategy"))
    except ValueError:
        raise EventError(
            "invalid_field", "pairs.make: 'strategy' is random, mixed or alike"
        ) from None
    minutes = command.get("rotate_minutes", 0)
    if not 0 <= minutes <= MAX_ROTATE_MINUTES:
        raise EventError(
            "invalid_field", f"pairs.make: rotate_minutes is 0 to {MAX_ROTATE_MINUTES}"
        )
    classroom_id = await classroom_of(store, room_id)
    starter = await _starter(store, classroom_id, command.get("exercise_id"))
    present = [uid for uid in await students_of(store, room_id) if uid in online]
    scores = await skill_scores(store, classroom_id, present)
    candidates = [Candidate(uid, scores[uid]) for uid in present]
    try:
        pairs = make_pairs(candidates, strategy, rng, round_=state.round + 1)
    except PairingError as exc:
        raise EventError("cannot_pair", f"pairs.make: {exc}") from None
    await _store_groups(store, room_id, pairs)
    for pair in pairs:
        for file, text in starter.items():
            name = f"pairs/{pair.group}/{file}"
            await push_text(docs, room_id, name, text, only_empty=True, now=now)
    return state.set_pairs(pairs, now, rotate_every=minutes * 60)


async def repair_pairs(
    store: Store,
    state: LessonState,
    *,
    room_id: int,
    online: Collection[int],
    rng: random.Random,
    now: float,
) -> list[Outgoing]:
    """Students whose partner left get a new partner (new groups start with empty files)."""
    if not state.pairs:
        raise EventError("no_pairs", "pairs.repair: the room has no pairs")
    pairs = repair(state.pairs, online, rng)
    await _store_groups(store, room_id, pairs)
    return state.regroup(pairs, now)
