"""Merging two accounts of one person (a student who joined twice) into one.

Everything of the source account moves to the target in one transaction: submissions, runs,
the XP ledger, hands, quiz answers, demo timeline entries, pair groups, rejoin codes (so both
of the person's codes keep working), roster and LMS links, and their documents
(``students/{source}/…`` renamed to the target, ``name (2)`` on a clash). Summaries are
combined by the rules of rooms/identity.py: progress per exercise, streaks; achievements keep
the earlier unlock. The source loses its membership, keeps its row (other tables may still
name it) and an :class:`AccountMerge` records who did it and what moved. The room boards and
this week's classroom board are then rebuilt from the ledger.

Only a source that belongs to no other classroom can be merged: its rows elsewhere are not
this classroom's instructor's to move. Nor while one of the source's documents is loaded in an
editor on this process (it would keep writing under the old name); documents open on another
process are not seen by this check.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from rooms.identity import ProgressRow, StreakRow, merge_progress, merge_streak, merged_doc_name
from rooms.leaderboard import BoardId
from server.exceptions import BadRequest, Conflict, NotFound
from server.models import (
    AccountMerge,
    AchievementUnlock,
    DemoTimelineEvent,
    DocSnapshot,
    DocUpdate,
    Hand,
    LtiGradeSync,
    LtiUser,
    Membership,
    PairMember,
    Progress,
    QuizAnswer,
    RejoinCode,
    Room,
    RosterEntry,
    Run,
    Streak,
    Submission,
    User,
    XpEvent,
)
from server.models.clock import utcnow
from server.store import Store

log = logging.getLogger("classroom.identity")

Rebuild = Callable[[BoardId], Awaitable[None]]
OpenDocuments = Callable[[], list[tuple[int, str]]]

# Tables whose rows just change owner (no uniqueness on the user).
_MOVED: list[tuple[str, Any]] = [
    ("submissions", Submission),
    ("runs", Run),
    ("xp_events", XpEvent),
    ("hands", Hand),
    ("demo_timeline_events", DemoTimelineEvent),
    ("rejoin_codes", RejoinCode),
    ("lti_users", LtiUser),
]


class AccountMerger:
    def __init__(
        self, store: Store, rebuild: Rebuild, open_documents: OpenDocuments = list
    ) -> None:
        self.store = store
        self.rebuild = rebuild
        self.open_documents = open_documents

    async def merge(
        self, classroom_id: int, source_id: int, target_id: int, by_user_id: int
    ) -> AccountMerge:
        if source_id == target_id:
            raise BadRequest("an account cannot be merged into itself", code="same_account")
        prefix = f"students/{source_id}/"
        if any(name.startswith(prefix) for _, name in self.open_documents()):
            raise Conflict(
                f"user {source_id} has documents open in an editor: merge once they are closed",
                code="documents_open",
            )
        async with self.store.session() as session:
            source = await _student(session, classroom_id, source_id)
            await _student(session, classroom_id, target_id)
            elsewhere = await session.exec(
                select(Membership.classroom_id).where(
                    Membership.user_id == source_id, Membership.classroom_id != classroom_id
                )
            )
            if elsewhere.first() is not None:
                raise Conflict(
                    f"user {source_id} also belongs to another classroom: merge the other way",
                    code="member_elsewhere",
                )
            moved: dict[str, int] = {}
            for name, model in _MOVED:
                result = await session.exec(
                    update(model).where(col(model.user_id) == source_id).values(user_id=target_id)
                )
                moved[name] = result.rowcount
            moved["progress"] = await _progress(session, source_id, target_id)
            moved["streaks"] = await _streaks(session, source_id, target_id)
            moved["achievements"] = await _keep_earliest(session, source_id, target_id)
            moved["quiz_answers"] = await _unique_move(
                session, QuizAnswer, source_id, target_id, ("session_id", "step")
            )
            moved["pair_members"] = await _unique_move(
                session, PairMember, source_id, target_id, ("room_id", "group")
            )
            moved["roster_entries"] = await _unique_move(
                session, RosterEntry, source_id, target_id, ("classroom_id",)
            )
            moved["lti_grade_syncs"] = await _unique_move(
                session, LtiGradeSync, source_id, target_id, ("lti_context_id", "exercise_id")
            )
            moved["documents"] = await _documents(session, source_id, target_id)
            membership = (
                await session.exec(
                    select(Membership).where(
                        Membership.classroom_id == classroom_id, Membership.user_id == source_id
                    )
                )
            ).one()
            await session.delete(membership)
            record = AccountMerge(
                classroom_id=classroom_id,
                source_user_id=source_id,
                target_user_id=target_id,
                by_user_id=by_user_id,
                source_name=source.name,
                moved=moved,
            )
            session.add(record)
            rooms = (
                await session.exec(select(Room.id).where(Room.classroom_id == classroom_id))
            ).all()
        log.info(
            "classroom %s: user %s merged into %s: %s", classroom_id, source_id, target_id, moved
        )
        for room_id in rooms:
            if room_id is not None:
                await self.rebuild(BoardId.room(room_id))
        await self.rebuild(BoardId.weekly(classroom_id, utcnow()))
        return record


async def _student(session: AsyncSession, classroom_id: int, user_id: int) -> User:
    row = (
        await session.exec(
            select(User, Membership.role)
            .join(Membership, col(Membership.user_id) == User.id)
            .where(Membership.classroom_id == classroom_id, User.id == user_id)
        )
    ).first()
    if row is None:
        raise NotFound(f"user {user_id} is not a member of this classroom", code="not_a_member")
    user, role = row
    if role != "student":
        raise BadRequest(f"user {user_id} is staff: only students are merged", code="not_a_student")
    return user


async def _progress(session: AsyncSession, source_id: int, target_id: int) -> int:
    rows = (await session.exec(select(Progress).where(Progress.user_id == source_id))).all()
    for row in rows:
        other = (
            await session.exec(
                select(Progress).where(
                    Progress.user_id == target_id,
                    Progress.classroom_id == row.classroom_id,
                    Progress.exercise_id == row.exercise_id,
                )
            )
        ).first()
        if other is None:
            row.user_id = target_id
            session.add(row)
            continue
        merged = merge_progress(_progress_row(other), _progress_row(row))
        for name, value in vars(merged).items():
            setattr(other, name, value)
        session.add(other)
        await session.delete(row)
    await session.flush()
    return len(rows)


def _progress_row(row: Progress) -> ProgressRow:
    return ProgressRow(
        attempts=row.attempts,
        best_score=row.best_score,
        max_score=row.max_score,
        passed=row.passed,
        first_attempt_at=row.first_attempt_at,
        last_attempt_at=row.last_attempt_at,
        first_pass_at=row.first_pass_at,
        live_rank=row.live_rank,
    )


async def _streaks(session: AsyncSession, source_id: int, target_id: int) -> int:
    rows = (await session.exec(select(Streak).where(Streak.user_id == source_id))).all()
    for row in rows:
        other = (
            await session.exec(
                select(Streak).where(
                    Streak.user_id == target_id, Streak.classroom_id == row.classroom_id
                )
            )
        ).first()
        if other is None:
            row.user_id = target_id
            session.add(row)
            continue
        merged = merge_streak(
            StreakRow(other.current, other.longest, other.last_day),
            StreakRow(row.current, row.longest, row.last_day),
        )
        other.current, other.longest, other.last_day = (
            merged.current,
            merged.longest,
            merged.last_day,
        )
        session.add(other)
        await session.delete(row)
    await session.flush()
    return len(rows)


async def _keep_earliest(session: AsyncSession, source_id: int, target_id: int) -> int:
    rows = (
        await session.exec(select(AchievementUnlock).where(AchievementUnlock.user_id == source_id))
    ).all()
    for row in rows:
        other = (
            await session.exec(
                select(AchievementUnlock).where(
                    AchievementUnlock.user_id == target_id,
                    AchievementUnlock.achievement_id == row.achievement_id,
                )
            )
        ).first()
        if other is not None:
            if row.unlocked_at < other.unlocked_at:
                other.unlocked_at = row.unlocked_at
                session.add(other)
            await session.delete(row)
        else:
            row.user_id = target_id
            session.add(row)
    await session.flush()
    return len(rows)


async def _unique_move(
    session: AsyncSession, model: Any, source_id: int, target_id: int, keys: tuple[str, ...]
) -> int:
    """Move rows unique per (user, *keys); where the target has one already, the target's
    stays and the source's is dropped."""
    rows = (await session.exec(select(model).where(model.user_id == source_id))).all()
    for row in rows:
        clash = select(model).where(model.user_id == target_id)
        for key in keys:
            clash = clash.where(getattr(model, key) == getattr(row, key))
        if (await session.exec(clash)).first() is not None:
            await session.delete(row)
        else:
            row.user_id = target_id
            session.add(row)
    await session.flush()
    return len(rows)


async def _documents(session: AsyncSession, source_id: int, target_id: int) -> int:
    prefix = f"students/{source_id}/"
    names: set[tuple[int, str]] = set()
    for model in (DocUpdate, DocSnapshot):
        found = await session.exec(
            select(model.room_id, model.doc).where(col(model.doc).startswith(prefix)).distinct()
        )
        names.update(found.all())
    renamed = 0
    for room_id in sorted({room for room, _ in names}):
        taken: set[str] = set()
        for model in (DocUpdate, DocSnapshot):
            docs = await session.exec(
                select(model.doc)
                .where(
                    model.room_id == room_id, col(model.doc).startswith(f"students/{target_id}/")
                )
                .distinct()
            )
            taken.update(docs.all())
        for _, doc in sorted(n for n in names if n[0] == room_id):
            new = merged_doc_name(doc, source_id, target_id, taken)
            assert new is not None
            taken.add(new)
            for model in (DocUpdate, DocSnapshot):
                await session.exec(
                    update(model)
                    .where(col(model.room_id) == room_id, col(model.doc) == doc)
                    .values(doc=new)
                )
            renamed += 1
    return renamed
