"""The integrity component: similarity reports and reviews of an exercise, and the replay
timeline of a document with its paste signals. Endpoints (api.py) check who asks; this
class reads and writes."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlmodel import col, select

from rooms.documents import parse_document_name
from rooms.integrity.fingerprints import Fingerprint, unpack
from rooms.integrity.index import compare
from rooms.integrity.replay import is_paste, replay, text_key
from rooms.integrity.sources import compared_text
from sandbox.grading import Exercise
from server.courses.exercises import find_exercise
from server.exceptions import BadRequest, NotFound
from server.integrity.growth import HistoryGrowth
from server.integrity.history import HistoryStore
from server.integrity.pastes import PasteEvent, paste_events
from server.integrity.reviews import apply_review, review_view
from server.integrity.similarity import Similarity
from server.models import (
    ExerciseRecord,
    Membership,
    Role,
    Room,
    SimilarityReview,
    Submission,
    SubmissionFingerprints,
    User,
)
from server.store import Store

log = logging.getLogger("classroom.integrity")


class Integrity:
    def __init__(
        self,
        store: Store,
        *,
        paste_threshold: int,
        retention_days: float,
        max_history_updates: int = 0,
    ) -> None:
        self.store = store
        self.paste_threshold = paste_threshold
        self.retention_days = retention_days
        self.similarity = Similarity(store)
        self.history = HistoryStore(
            store, retention_days=retention_days, max_updates=max_history_updates
        )
        self.growth = HistoryGrowth(self.history)  # the bound as history grows (growth.py)

    async def start(self) -> None:
        await self.similarity.start()
        await self.history.start()

    async def close(self) -> None:
        await self.growth.close()
        await self.history.close()
        await self.similarity.close()

    def submitted(self, row: Submission, exercise: Exercise) -> None:
        """Called by grading for every accepted submission."""
        self.similarity.submitted(row, exercise)

    async def exercise(
        self, classroom_id: int, exercise_id: str
    ) -> tuple[ExerciseRecord, Exercise]:
        return await find_exercise(self.store, classroom_id, exercise_id)

    async def report(
        self, classroom_id: int, exercise_id: str, *, limit: int, min_similarity: float
    ) -> dict[str, Any]:
        """The ranked pairs of an exercise, each with fragments, pastes and its review."""
        record, exercise = await self.exercise(classroom_id, exercise_id)
        index, lock = await self.similarity.index(
            classroom_id, exercise_id, exercise, record.version
        )
        staff = await self._staff(classroom_id)
        async with lock:
            pairs = await asyncio.to_thread(index.pairs, limit, min_similarity, staff)
            indexed = len(index) - sum(1 for user in staff if user in index)
        users = {entry.owner for pair in pairs for entry in (pair.a, pair.b)}
        names = await self._names(users)
        pastes = await self._pastes(classroom_id, users)
        reviews = await self._reviews(classroom_id, exercise_id)
        policy = exercise.similarity

        def side(owner: int, submission: int) -> dict[str, Any]:
            return {
                "user_id": owner,
                "submission_id": submission,
                "name": names.get(owner, ""),
                "pastes": sum(1 for event in pastes if event.author_id == owner),
            }

        return {
            "exercise_id": exercise_id,
            "threshold": policy.threshold,
            "penalty": policy.penalty,
            "paste_threshold": self.paste_threshold,
            "submissions": indexed,
            "pairs": [
                {
                    "a": side(pair.a.owner, pair.a.submission),
                    "b": side(pair.b.owner, pair.b.submission),
                    "similarity": round(pair.similarity, 4),
                    "flagged": pair.similarity >= policy.threshold,
                    "fragments": [fragment.to_dict() for fragment in pair.fragments],
                    "review": reviews.get(frozenset((pair.a.submission, pair.b.submission))),
                }
                for pair in pairs
            ],
        }

    async def pair(
        self, classroom_id: int, exercise_id: str, a_id: int, b_id: int
    ) -> dict[str, Any]:
        """Two submissions side by side: texts, similarity, fragments, pastes of each author."""
        record, exercise = await self.exercise(classroom_id, exercise_id)
        index, _ = await self.similarity.index(classroom_id, exercise_id, exercise, record.version)
        a, a_prints = await self._submission(classroom_id, exercise_id, a_id, exercise)
        b, b_prints = await self._submission(classroom_id, exercise_id, b_id, exercise)
        value, found = await asyncio.to_thread(compare, a_prints, b_prints, index.ignored)
        names = await self._names({a.user_id, b.user_id})
        pastes = await self._pastes(classroom_id, {a.user_id, b.user_id})
        reviews = await self._reviews(classroom_id, exercise_id)

        def side(row: Submission) -> dict[str, Any]:
            return {
                "user_id": row.user_id,
                "submission_id": row.id,
                "name": names.get(row.user_id, ""),
                "text": compared_text(row.files),
                "pastes": [event.to_dict() for event in pastes if event.author_id == row.user_id],
            }

        return {
            "a": side(a),
            "b": side(b),
            "similarity": round(value, 4),
            "flagged": value >= exercise.similarity.threshold,
            "fragments": [fragment.to_dict() for fragment in found],
            "review": reviews.get(frozenset((a_id, b_id))),
        }

    async def review(
        self,
        classroom_id: int,
        exercise_id: str,
        reviewer_id: int,
        a_id: int,
        b_id: int,
        *,
        verdict: str,
        penalize: list[int] | None,
        note: str,
    ) -> dict[str, Any]:
        """Record an instructor's verdict; a confirmation at or over the threshold applies
        the exercise's penalty to the chosen students (both by default), once each."""
        if a_id == b_id:
            raise BadRequest("a pair needs two different submissions", code="same_submission")
        record, exercise = await self.exercise(classroom_id, exercise_id)
        index, _ = await self.similarity.index(classroom_id, exercise_id, exercise, record.version)
        a, a_prints = await self._submission(classroom_id, exercise_id, a_id, exercise)
        b, b_prints = await self._submission(classroom_id, exercise_id, b_id, exercise)
        if a.user_id == b.user_id:
            raise BadRequest("both submissions are by the same student", code="same_student")
        value, _ = await asyncio.to_thread(compare, a_prints, b_prints, index.ignored)
        chosen = [a.user_id, b.user_id] if penalize is None else penalize
        stray = set(chosen) - {a.user_id, b.user_id}
        if stray:
            raise BadRequest(
                f"penalize names users outside the pair: {sorted(stray)}", code="not_in_pair"
            )
        return await apply_review(
            self.store,
            exercise,
            (a, b),
            value,
            reviewer_id=reviewer_id,
            verdict=verdict,
            penalize=chosen,
            note=note,
        )

    async def timeline(self, room: Room, doc: str) -> dict[str, Any]:
        """The replay of one document: its text at the start of the kept history, then every
        stored update with time, author, text change and paste mark."""
        assert room.id is not None
        history = await self.history.read(room.id, doc)
        if history.checkpoint is None and not history.updates:
            raise NotFound(f"document {doc!r} has no stored history", code="unknown_document")
        start, changes = await asyncio.to_thread(
            replay, history.checkpoint, [update.data for update in history.updates]
        )
        authors = {u.author_id for u in history.updates if u.author_id is not None}
        names = await self._names(authors)
        roles = await self._roles(room.classroom_id, authors)
        given = await self._given(room.classroom_id)
        events = []
        for update, change in zip(history.updates, changes, strict=True):
            if change is None:
                continue
            student = roles.get(update.author_id or 0) == Role.STUDENT.value
            starter = update.inserted_key is not None and update.inserted_key in given
            events.append(
                {
                    "id": update.id,
                    "at": update.at.isoformat(),
                    "user_id": update.author_id,
                    "name": names.get(update.author_id or 0),
                    "inserted": change.inserted,
                    "deleted": change.deleted,
                    "delta": change.delta,
                    "starter": starter,
                    "paste": student
                    and not starter
                    and is_paste(update.inserted, self.paste_threshold),
                }
            )
        name = parse_document_name(doc)
        return {
            "room_id": room.id,
            "doc": doc,
            "owner": name.owner_user_id,
            "retention_days": self.retention_days,
            "paste_threshold": self.paste_threshold,
            "start": {
                "text": start,
                "at": history.checkpoint_at.isoformat() if history.checkpoint_at else None,
            },
            "events": events,
        }

    async def _submission(
        self, classroom_id: int, exercise_id: str, submission_id: int, exercise: Exercise
    ) -> tuple[Submission, list[Fingerprint]]:
        async with self.store.session() as session:
            row = await session.get(Submission, submission_id)
            stored = (
                await session.exec(
                    select(SubmissionFingerprints.data).where(
                        SubmissionFingerprints.submission_id == submission_id
                    )
                )
            ).first()
        if row is None or row.classroom_id != classroom_id or row.exercise_id != exercise_id:
            raise NotFound(
                f"submission {submission_id} is not one of exercise {exercise_id!r}",
                code="unknown_submission",
            )
        if stored is not None:
            return row, unpack(stored)
        prints = await self.similarity.store_prints(row, exercise.language)
        return row, prints or []

    async def _names(self, users: set[int]) -> dict[int, str]:
        if not users:
            return {}
        async with self.store.session() as session:
            rows = await session.exec(select(User.id, User.name).where(col(User.id).in_(users)))
            return {uid: name for uid, name in rows.all() if uid is not None}

    async def _staff(self, classroom_id: int) -> set[int]:
        """Instructors and assistants: their test submissions are not students' pairs."""
        async with self.store.session() as session:
            rows = await session.exec(
                select(Membership.user_id).where(
                    Membership.classroom_id == classroom_id,
                    col(Membership.role).in_([Role.INSTRUCTOR.value, Role.ASSISTANT.value]),
                )
            )
            return set(rows.all())

    async def _roles(self, classroom_id: int, users: set[int]) -> dict[int, str]:
        if not users:
            return {}
        async with self.store.session() as session:
            rows = await session.exec(
                select(Membership.user_id, Membership.role).where(
                    Membership.classroom_id == classroom_id, col(Membership.user_id).in_(users)
                )
            )
            return dict(rows.all())

    async def _pastes(self, classroom_id: int, users: set[int]) -> list[PasteEvent]:
        async with self.store.session() as session:
            rooms = (
                await session.exec(select(Room.id).where(Room.classroom_id == classroom_id))
            ).all()
        room_ids = [room_id for room_id in rooms if room_id is not None]
        given = await self._given(classroom_id)
        return await paste_events(self.store, room_ids, users, self.paste_threshold, given)

    async def _given(self, classroom_id: int) -> set[int]:
        """Keys of the classroom's starter files: the editor seeds them, nobody pastes them."""
        async with self.store.session() as session:
            rows = (
                await session.exec(
                    select(ExerciseRecord.definition).where(
                        ExerciseRecord.classroom_id == classroom_id
                    )
                )
            ).all()
        keys = set()
        for definition in rows:
            starter = definition.get("starter") or {}
            for text in starter.values() if isinstance(starter, dict) else ():
                if isinstance(text, str):
                    keys.add(text_key(text))
        return keys

    async def _reviews(
        self, classroom_id: int, exercise_id: str
    ) -> dict[frozenset[int], dict[str, Any]]:
        async with self.store.session() as session:
            rows = (
                await session.exec(
                    select(SimilarityReview)
                    .where(
                        SimilarityReview.classroom_id == classroom_id,
                        SimilarityReview.exercise_id == exercise_id,
                    )
                    .order_by(col(SimilarityReview.id))
                )
            ).all()
        # The latest verdict on a pair wins.
        return {frozenset((r.a_submission_id, r.b_submission_id)): review_view(r) for r in rows}
