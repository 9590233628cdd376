"""A document's typing history held to its bound as it grows, not only at the hourly round.

The hourly round (server/integrity/history.py) folds a document's oldest history past
``max_updates`` into its checkpoint. Between two rounds, a script typing one character at a
time as fast as the document socket takes them (1,000 frames a second) could add 3.6 million
history rows an hour to one document, about 100 bytes each with the index: hundreds of MB of
disk an hour from one browser tab, until the round came.

History grows only when a compaction copies a document's updates into it (:meth:`kept`, called
by the document store after each). So each process counts, per document it compacted, what
was copied since the document was last checked; once that reaches :func:`step` (a tenth of the
bound, at least one fold's worth), it counts the document's history (one index range) and
folds the excess, in a task of its own, off the compaction's way. A document waiting after a
failed fold (the round's back-off record) is left to the round. A document then holds at most
the bound plus about a step, however fast it is typed into.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy import Table, func, select

from server.integrity.history import PRUNE_ROWS_PER_FOLD, HistoryStore
from server.models import DocHistoryPruneFailure, DocHistoryUpdate
from server.models.clock import as_utc, utcnow

log = logging.getLogger("classroom.integrity")

_HISTORY: Table = DocHistoryUpdate.__table__  # type: ignore[attr-defined]
_FAILING: Table = DocHistoryPruneFailure.__table__  # type: ignore[attr-defined]
# Documents whose growth is counted at once; past it the counts start over (a check comes a
# step later for those).
MAX_COUNTED = 10_000


def step(max_updates: int) -> int:
    """History a document gains between two checks of its bound."""
    return max(PRUNE_ROWS_PER_FOLD, max_updates // 10)


class HistoryGrowth:
    def __init__(self, history: HistoryStore) -> None:
        self.history = history
        self._grown: dict[tuple[int, str], int] = {}
        self._checks: dict[tuple[int, str], asyncio.Task[None]] = {}

    def kept(self, room_id: int, doc: str, count: int) -> None:
        """``count`` updates of the document were just copied into its history."""
        bound = self.history.max_updates
        if bound <= 0 or self.history.retention_days <= 0:
            return
        key = (room_id, doc)
        if key not in self._grown and len(self._grown) >= MAX_COUNTED:
            self._grown.clear()
        self._grown[key] = self._grown.get(key, 0) + count
        self._start(key)

    def _start(self, key: tuple[int, str]) -> None:
        """A check of ``key`` if it grew a step and none runs; what it gains while one runs
        counts towards the next, started when that one ends."""
        if key in self._checks or self._grown.get(key, 0) < step(self.history.max_updates):
            return
        del self._grown[key]
        task = asyncio.create_task(self._check(*key), name=f"history-bound-{key}")
        self._checks[key] = task

        def done(_: asyncio.Task[None]) -> None:
            self._checks.pop(key, None)
            if not task.cancelled():
                self._start(key)

        task.add_done_callback(done)

    async def _check(self, room_id: int, doc: str) -> None:
        now = utcnow()
        try:
            async with self.history.store.engine.connect() as conn:
                kept = (
                    await conn.execute(
                        select(func.count()).where(
                            _HISTORY.c.room_id == room_id, _HISTORY.c.doc == doc
                        )
                    )
                ).scalar_one()
                failing = (
                    await conn.execute(
                        select(_FAILING.c.failures, _FAILING.c.retry_at).where(
                            _FAILING.c.room_id == room_id, _FAILING.c.doc == doc
                        )
                    )
                ).first()
            if failing is not None and as_utc(failing.retry_at) > now:
                return  # waiting after a failed fold: the round retries it in its time
            excess = kept - self.history.max_updates
            if excess > 0:
                await self.history.fold_doc(
                    room_id,
                    doc,
                    cutoff=None,
                    excess=excess,
                    failed_before=failing.failures if failing is not None else None,
                    now=now,
                )
        except Exception:
            # Task boundary: the next step, or the hourly round, tries again.
            log.error("bounding the history of room %s doc %s failed", room_id, doc, exc_info=True)

    async def settled(self) -> None:
        """Once every check started so far has finished (tests; closing)."""
        while self._checks:
            await asyncio.gather(*list(self._checks.values()), return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._checks.values()):
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.settled()
