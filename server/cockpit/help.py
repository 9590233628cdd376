"""Hints and explanations in a running process: a student's view, a hint bought for XP, and
a hint or written message pushed by the staff to one student, the stuck ones, or the room.

Rules are :mod:`rooms.cockpit.hints`; here are the counts they need, read by SQL: failed
attempts per test (``attempt_outcomes``), hints granted (``hint_grants``), tests passed.
A student's view never holds a locked hint: the texts are cut before they leave.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from rooms.cockpit.exceptions import CockpitError, UnknownTest
from rooms.cockpit.hints import HintSet, first_with_hint_left, next_hint, pushed, student_view
from rooms.events import Outgoing
from server.events.hub import RoomHub
from server.exceptions import Conflict, NotFound
from server.gamification import ledger
from server.gamification.game import Gamification, PointsAward
from server.models import AttemptOutcome, ExerciseRecord, HintGrant
from server.store import Store

log = logging.getLogger("classroom.cockpit")


def hint_sets(definition: Mapping[str, Any]) -> list[HintSet]:
    return [
        HintSet(
            name=str(t.get("name", "")),
            hints=tuple(t.get("hints") or ()),
            explanation=str(t.get("explanation") or ""),
            after_due=t.get("visibility") == "after_due",
        )
        for t in definition.get("tests") or []
    ]


def thresholds(definition: Mapping[str, Any]) -> tuple[int, int]:
    """(hint_after, hint_cost) of a stored definition."""
    raw = definition.get("thresholds") or {}
    return int(raw.get("hint_after", 2)), int(raw.get("hint_cost", 5))


def past_due(definition: Mapping[str, Any], now: datetime) -> bool:
    due = definition.get("due")
    return bool(due) and now >= datetime.fromisoformat(str(due))


async def counts(
    session: AsyncSession, classroom_id: int, exercise_id: str, user_id: int
) -> tuple[dict[str, int], dict[str, int], set[str]]:
    """(failed attempts per test, hints granted per test, tests passed) of one student."""
    verdicts = await session.exec(
        select(AttemptOutcome.test, AttemptOutcome.passed, func.count())
        .where(
            AttemptOutcome.classroom_id == classroom_id,
            AttemptOutcome.exercise_id == exercise_id,
            AttemptOutcome.user_id == user_id,
        )
        .group_by(col(AttemptOutcome.test), col(AttemptOutcome.passed))
    )
    failures: dict[str, int] = {}
    passed: set[str] = set()
    for test, ok, n in verdicts.all():
        if ok:
            passed.add(test)
        else:
            failures[test] = int(n)
    grants = await session.exec(
        select(HintGrant.test, func.count())
        .where(
            HintGrant.classroom_id == classroom_id,
            HintGrant.exercise_id == exercise_id,
            HintGrant.user_id == user_id,
        )
        .group_by(col(HintGrant.test))
    )
    return failures, {t: int(n) for t, n in grants.all()}, passed


class Hints:
    def __init__(self, store: Store, hub: RoomHub, gamification: Gamification) -> None:
        self.store = store
        self.hub = hub
        self.gamification = gamification

    async def view(self, record: ExerciseRecord, user_id: int, now: datetime) -> dict[str, Any]:
        """What ``user_id`` may see of ``record``'s hints and explanations now."""
        hint_after, hint_cost = thresholds(record.definition)
        async with self.store.session() as session:
            failures, granted, passed = await counts(
                session, record.classroom_id, record.exercise_id, user_id
            )
        tests = student_view(
            hint_sets(record.definition),
            failures=failures,
            granted=granted,
            passed=passed,
            after_due=past_due(record.definition, now),
            hint_after=hint_after,
            hint_cost=hint_cost,
        )
        return {"exercise_id": record.exercise_id, "hint_after": hint_after, "tests": tests}

    async def buy(
        self, record: ExerciseRecord, room_id: int, user_id: int, test: str, now: datetime
    ) -> dict[str, Any]:
        """Unlock the next hint of ``test`` for ``user_id`` at the exercise's XP cost.
        Raises 404 (no such test), 409 (no hint left, or not enough XP)."""
        hint_after, cost = thresholds(record.definition)
        sets = hint_sets(record.definition)
        async with self.store.session() as session:
            failures, granted, _ = await counts(
                session, record.classroom_id, record.exercise_id, user_id
            )
            try:
                index, text = next_hint(
                    sets, test, failures.get(test, 0), granted.get(test, 0), hint_after
                )
            except CockpitError as exc:
                raise _refusal(exc) from None
            if cost > 0 and await ledger.sum_xp(session, user_id) < cost:
                raise Conflict(f"a hint costs {cost} XP", code="not_enough_xp")
            session.add(
                HintGrant(
                    classroom_id=record.classroom_id,
                    user_id=user_id,
                    exercise_id=record.exercise_id,
                    test=test,
                    source="bought",
                    by_user_id=user_id,
                    created_at=now,
                )
            )
        if cost > 0:
            grant = PointsAward(
                user_id,
                record.classroom_id,
                room_id,
                -cost,
                "hint",
                f"{record.exercise_id}: {test}",
                now,
            )
            await self.hub.publish_all(room_id, await self.gamification.award(grant))
        return {"test": test, "index": index, "hint": text, "cost": cost}

    async def push(
        self,
        record: ExerciseRecord,
        room_id: int,
        users: Iterable[int],
        *,
        test: str | None,
        message: str | None,
        sender_id: int,
        sender: str,
        now: datetime,
    ) -> dict[str, Any]:
        """Send each of ``users`` their next hint (of ``test``, or of the first failing test
        with one left) and/or ``message``, live (``hint.pushed``). A user with no hint left
        gets the message alone, or is listed in ``skipped``."""
        hint_after, _ = thresholds(record.definition)
        sets = hint_sets(record.definition)
        want_hint = test is not None or not message
        out: list[Outgoing] = []
        sent: list[int] = []
        skipped: list[int] = []
        async with self.store.session() as session:
            for user in dict.fromkeys(users):
                failures, granted, passed = await counts(
                    session, record.classroom_id, record.exercise_id, user
                )
                index, text, about = None, None, test
                if want_hint:
                    try:
                        failing = sorted(
                            (t for t in failures if t not in passed), key=lambda t: -failures[t]
                        )
                        about = test or first_with_hint_left(
                            sets, failing, failures, granted, hint_after
                        )
                        index, text = next_hint(
                            sets, about, failures.get(about, 0), granted.get(about, 0), hint_after
                        )
                    except CockpitError as exc:
                        if isinstance(exc, UnknownTest):
                            raise _refusal(exc) from None
                        about = test
                if text is None and not message:
                    skipped.append(user)
                    continue
                if text is not None and about is not None:
                    session.add(
                        HintGrant(
                            classroom_id=record.classroom_id,
                            user_id=user,
                            exercise_id=record.exercise_id,
                            test=about,
                            source="pushed",
                            by_user_id=sender_id,
                            created_at=now,
                        )
                    )
                out += pushed(
                    [user],
                    exercise_id=record.exercise_id,
                    test=about if text is not None else None,
                    hint=text,
                    index=index,
                    message=message,
                    sender=sender,
                )
                sent.append(user)
        await self.hub.publish_all(room_id, out)
        log.info(
            "room %s: pushed help on %s to %d students", room_id, record.exercise_id, len(sent)
        )
        return {"sent": sent, "skipped": skipped}


def _refusal(exc: CockpitError) -> Conflict | NotFound:
    if isinstance(exc, UnknownTest):
        return NotFound(str(exc), code="unknown_test")
    return Conflict(str(exc), code="no_hint_left")
