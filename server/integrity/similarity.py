"""Similarity of an exercise's submissions: fingerprints stored once per submission, an
index per exercise kept in memory and brought up to date incrementally.

Design note. A submission is fingerprinted when it is graded (:meth:`Similarity.submitted`,
off the event loop) and the packed fingerprints are stored, so nothing is ever lexed twice.
The index of an exercise is built on the first report from the stored fingerprints (and,
once, from submissions made before fingerprints existed); after that each report only adds
the fingerprint rows stored since (by any process: rows are read by id). A re-imported
exercise (new version) rebuilds its index, because the starter code or the reference —
the hashes ignored — may have changed. One lock per exercise orders adds and reports.
At most ``max_loaded`` indexes stay in memory (about 9 MiB for 300 submissions of 200
lines); the least recently used one is dropped and rebuilt from the stored fingerprints
(unpacked, not re-lexed) when it is asked for again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from rooms.integrity.exceptions import IntegrityError as CodeError
from rooms.integrity.fingerprints import Fingerprint, pack, unpack
from rooms.integrity.index import SimilarityIndex
from rooms.integrity.sources import given_hashes, submission_prints
from sandbox.grading import Exercise
from server.models import Submission, SubmissionFingerprints
from server.store import Store

log = logging.getLogger("classroom.integrity")

ExerciseKey = tuple[int, str]


@dataclass
class _Loaded:
    index: SimilarityIndex
    version: int
    last_row: int = 0


class Similarity:
    """Keeps the fingerprint indexes of this process. ``start``/``close`` in the lifespan."""

    def __init__(self, store: Store, *, max_loaded: int = 16) -> None:
        self.store = store
        self.max_loaded = max_loaded
        self._loaded: OrderedDict[ExerciseKey, _Loaded] = OrderedDict()
        self._locks: dict[ExerciseKey, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def submitted(self, row: Submission, exercise: Exercise) -> None:
        """A submission was accepted: fingerprint and store it in the background."""
        task = asyncio.create_task(self._record(row, exercise), name=f"fingerprint-{row.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _record(self, row: Submission, exercise: Exercise) -> None:
        try:
            prints = await self.store_prints(row, exercise.language)
        except Exception:
            # Task boundary: a failed fingerprint must not touch grading; the index's
            # first load fingerprints whatever is missing.
            log.error("fingerprinting submission %s failed", row.id, exc_info=True)
            return
        key = (row.classroom_id, row.exercise_id)
        loaded = self._loaded.get(key)
        if loaded is not None and prints is not None:
            async with self._lock(key):
                loaded.index.add(row.user_id, row.id or 0, prints)

    async def store_prints(self, row: Submission, language: str) -> list[Fingerprint] | None:
        """Fingerprint ``row`` and store the result; None for a language without a lexer."""
        assert row.id is not None
        try:
            prints = await asyncio.to_thread(submission_prints, row.files, language)
        except CodeError as exc:
            log.info("submission %s not fingerprinted: %s", row.id, exc)
            return None
        stored = SubmissionFingerprints(
            submission_id=row.id,
            classroom_id=row.classroom_id,
            exercise_id=row.exercise_id,
            user_id=row.user_id,
            language=language,
            data=pack(prints),
        )
        # One hop to the store's thread: a class's submissions arrive at once. An integrity
        # error: stored already (by the backfill, or another process).
        with contextlib.suppress(IntegrityError):
            await self.store.threaded.write(lambda session: session.add(stored))
        return prints

    def _lock(self, key: ExerciseKey) -> asyncio.Lock:
        return self._locks.setdefault(key, asyncio.Lock())

    async def index(
        self, classroom_id: int, exercise_id: str, exercise: Exercise, version: int
    ) -> tuple[SimilarityIndex, asyncio.Lock]:
        """The up-to-date index of an exercise and the lock to hold while reading it."""
        key = (classroom_id, exercise_id)
        lock = self._lock(key)
        async with lock:
            loaded = self._loaded.get(key)
            if loaded is None or loaded.version != version:
                policy = exercise.similarity
                ignored = await asyncio.to_thread(
                    given_hashes, exercise.language, exercise.starter, policy.reference
                )
                loaded = _Loaded(SimilarityIndex(ignored), version)
                await self._backfill(classroom_id, exercise_id, exercise.language)
                self._loaded[key] = loaded
            self._loaded.move_to_end(key)
            while len(self._loaded) > self.max_loaded:
                self._loaded.popitem(last=False)
            async with self.store.session() as session:
                rows = (
                    await session.exec(
                        select(SubmissionFingerprints)
                        .where(
                            SubmissionFingerprints.classroom_id == classroom_id,
                            SubmissionFingerprints.exercise_id == exercise_id,
                            col(SubmissionFingerprints.id) > loaded.last_row,
                        )
                        .order_by(col(SubmissionFingerprints.id))
                    )
                ).all()
            for stored in rows:
                assert stored.id is not None
                loaded.index.add(stored.user_id, stored.submission_id, unpack(stored.data))
                loaded.last_row = max(loaded.last_row, stored.id)
        return loaded.index, lock

    async def _backfill(self, classroom_id: int, exercise_id: str, language: str) -> None:
        """Fingerprint the submissions stored before fingerprints were (once per load)."""
        async with self.store.session() as session:
            missing = (
                await session.exec(
                    select(Submission)
                    .outerjoin(
                        SubmissionFingerprints,
                        col(SubmissionFingerprints.submission_id) == Submission.id,
                    )
                    .where(
                        Submission.classroom_id == classroom_id,
                        Submission.exercise_id == exercise_id,
                        col(SubmissionFingerprints.id).is_(None),
                    )
                )
            ).all()
        for row in missing:
            await self.store_prints(row, language)
        if missing:
            log.info("fingerprinted %d earlier submissions of %s", len(missing), exercise_id)
