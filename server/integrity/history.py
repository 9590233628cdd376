"""The typing history of documents: kept through compaction, pruned after the retention.

Design note. ``doc_updates`` holds the updates the snapshot lacks; compaction folds them into
the snapshot and deletes them. With history on, the same transaction first copies them into
``doc_history`` (same ids, author, time, inserted characters) — :func:`keep_history`; the
first compaction that keeps history also writes the document's checkpoint, the state its
kept history starts from (the snapshot before it; empty for a new document).
:meth:`HistoryStore.prune` folds history older than the retention into the checkpoint, one
document at a time, in transactions that each delete exactly the rows they folded (as
compaction does), at most :data:`PRUNE_ROWS_PER_FOLD` of them each. A document
typed for a whole term can have hundreds of thousands of updates past the retention: naming
them all in one statement failed on PostgreSQL, every hour (a statement takes at most 65,535
parameters), and their merge, on the event loop, takes time growing as their number squared
(measured here: 500 updates 2 to 5 ms, 10,000 0.7 to 0.9 s, 20,000 3.0 to 3.3 s). One
document that cannot be folded (a row that no longer parses) is logged and skipped; the
others are still pruned. Its failures in a row and the time it may be tried again (1, 2, 4,
… rounds after the round that failed, at most :data:`PRUNE_BACKOFF_MAX_ROUNDS`) are a row
of ``doc_history_prune_failures``, and a round's candidates leave out the documents still
waiting, so documents that keep failing cannot fill a round. The row is in the database, not
in the process: the back-off outlives a restart, and every server process (each runs its own
pruner) waits for it instead of retrying the document itself. A fold that succeeds, or no
history left past the cutoff, drops the row.
A replay is the checkpoint, then the kept history, then the unfolded updates, in id order.

The history of one document is also bounded in size: past ``max_updates`` kept updates, each
round folds its oldest into the checkpoint until ``max_updates`` are left, however recent they
are. A student sending one-character edits as fast as the document socket takes them (800
a second) added 8,000 history rows in 10 s, about 100 KB a second, kept for the whole
retention: a disk filled by one browser tab. Nobody types 50,000 edits into one file in a
term; such a document keeps the replay of its newest ones. Between rounds, the process that
compacts a document checks its bound as its history grows (server/integrity/growth.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    ColumnElement,
    Insert,
    Join,
    Subquery,
    Table,
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.engine import Connection

from rooms.snapshots import squashed
from server.models import (
    DocHistoryCheckpoint,
    DocHistoryPruneFailure,
    DocHistoryUpdate,
    DocSnapshot,
    DocUpdate,
)
from server.models.clock import as_utc, utcnow
from server.models.integrity import PRUNE_ERROR_CHARS
from server.store import Store

if TYPE_CHECKING:
    from sqlalchemy.dialects import postgresql, sqlite

log = logging.getLogger("classroom.integrity")

_UPDATES: Table = DocUpdate.__table__  # type: ignore[attr-defined]
_HISTORY: Table = DocHistoryUpdate.__table__  # type: ignore[attr-defined]
_CHECKPOINTS: Table = DocHistoryCheckpoint.__table__  # type: ignore[attr-defined]
_SNAPSHOTS: Table = DocSnapshot.__table__  # type: ignore[attr-defined]
_FAILING: Table = DocHistoryPruneFailure.__table__  # type: ignore[attr-defined]
_COLUMNS = (
    "id",
    "room_id",
    "doc",
    "data",
    "created_at",
    "author_id",
    "inserted",
    "inserted_key",
)
EMPTY_UPDATE = b"\x00\x00"
# A round: how often each process prunes, and the unit of the back-off below.
PRUNE_EVERY_SECONDS = 3600.0
PRUNE_DOCS_PER_ROUND = 200
# Updates folded by one pruning transaction, oldest first: a short merge on the event loop,
# named by id in a DELETE far under every driver's limit on a statement's parameters.
PRUNE_ROWS_PER_FOLD = 500
# A document whose pruning failed is not tried again, by any process, for 1, 2, 4, … up to
# this many rounds (PRUNE_EVERY_SECONDS each) after the round that failed: stored as a time,
# since each process counts its own rounds.
PRUNE_BACKOFF_MAX_ROUNDS = 24


def history_copy(chosen: ColumnElement[bool]) -> Insert:
    """The ``INSERT … SELECT`` that copies the updates ``chosen`` into the history, built
    once for each way compaction names its rows (server/documents/compaction.py)."""
    rows = select(*[_UPDATES.c[name] for name in _COLUMNS]).where(chosen)
    return insert(_HISTORY).from_select(list(_COLUMNS), rows)


# Compaction's other statements here, built once too (compaction.py says why).
_CHECKPOINT_OF_DOC = select(_CHECKPOINTS.c.room_id).where(
    _CHECKPOINTS.c.room_id == bindparam("hist_room"), _CHECKPOINTS.c.doc == bindparam("hist_doc")
)
_NEW_CHECKPOINT = insert(_CHECKPOINTS)
_FORGET = tuple(
    delete(table).where(
        table.c.room_id == bindparam("hist_room"), table.c.doc == bindparam("hist_doc")
    )
    for table in (_HISTORY, _CHECKPOINTS)
)


def keep_history(
    conn: Connection,
    *,
    room_id: int,
    doc: str,
    copy: Insert,
    chosen: dict[str, Any],
    previous_snapshot: bytes | None,
    previous_last_id: int,
) -> None:
    """In compaction's transaction (on the writer's thread): copy the updates it folds into
    the history (``copy``, from :func:`history_copy`, with the parameters ``chosen``).

    The first time, the document's checkpoint is written too: the snapshot before this
    compaction (empty for a new document), which the kept history starts from."""
    known = conn.execute(_CHECKPOINT_OF_DOC, {"hist_room": room_id, "hist_doc": doc})
    if known.first() is None:
        conn.execute(
            _NEW_CHECKPOINT,
            {
                "room_id": room_id,
                "doc": doc,
                "data": previous_snapshot if previous_snapshot is not None else EMPTY_UPDATE,
                "upto_id": previous_last_id,
            },
        )
    conn.execute(copy, chosen)


def forget_history(conn: Connection, *, room_id: int, doc: str) -> None:
    """In compaction's transaction when no history is kept: drop what an earlier setting
    kept, so the timeline starts from the snapshot instead of a checkpoint with a gap."""
    for statement in _FORGET:
        conn.execute(statement, {"hist_room": room_id, "hist_doc": doc})


@dataclass(frozen=True, slots=True)
class StoredUpdate:
    id: int
    at: datetime
    author_id: int | None
    inserted: int
    inserted_key: int | None
    data: bytes


@dataclass(frozen=True, slots=True)
class History:
    checkpoint: bytes | None
    checkpoint_at: datetime | None
    updates: list[StoredUpdate]


class HistoryStore:
    """Reads a document's history; prunes what is older than ``retention_days`` every hour."""

    def __init__(self, store: Store, *, retention_days: float, max_updates: int = 0) -> None:
        self.store = store
        self.retention_days = retention_days
        self.max_updates = max_updates
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self.retention_days > 0 and self._task is None:
            self._task = asyncio.create_task(self._prune_loop(), name="history-prune")

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def read(self, room_id: int, doc: str) -> History:
        """Checkpoint, kept history and unfolded updates of a document, oldest first.

        Read in the order rows move (updates, then history, then the checkpoint), so a
        compaction or a pruning that commits between two reads (PostgreSQL's READ
        COMMITTED) makes a row appear twice, never vanish: duplicates are dropped by id, and
        an update also folded into the checkpoint re-applies as a no-op. A document without
        a checkpoint was never compacted while history was kept: its snapshot (if any) is
        where the stored updates start."""
        found: dict[int, StoredUpdate] = {}
        async with self.store.engine.connect() as conn, conn.begin():
            for table in (_UPDATES, _HISTORY):
                rows = await conn.execute(
                    select(*[table.c[name] for name in _COLUMNS if name not in ("room_id", "doc")])
                    .where(table.c.room_id == room_id, table.c.doc == doc)
                    .order_by(table.c.id)
                )
                for row in rows:
                    found[row.id] = StoredUpdate(
                        row.id,
                        as_utc(row.created_at),
                        row.author_id,
                        row.inserted,
                        row.inserted_key,
                        bytes(row.data),
                    )
            head = (
                await conn.execute(
                    select(_CHECKPOINTS.c.data, _CHECKPOINTS.c.at).where(
                        _CHECKPOINTS.c.room_id == room_id, _CHECKPOINTS.c.doc == doc
                    )
                )
            ).first()
            if head is None:
                head = (
                    await conn.execute(
                        select(_SNAPSHOTS.c.data, _SNAPSHOTS.c.updated_at.label("at")).where(
                            _SNAPSHOTS.c.room_id == room_id, _SNAPSHOTS.c.doc == doc
                        )
                    )
                ).first()
        return History(
            bytes(head.data) if head else None,
            as_utc(head.at) if head and head.at else None,
            [found[key] for key in sorted(found)],
        )

    async def prune(self, now: datetime | None = None) -> int:
        """Fold history older than the retention into checkpoints; how many updates folded.

        ``now`` is the round's time (the clock's when not given): the cutoff and the retry
        times of the documents that fail are counted from it."""
        if self.retention_days <= 0:
            return 0
        if now is None:
            now = utcnow()
        cutoff = now - timedelta(days=self.retention_days)
        async with self.store.engine.connect() as conn:
            anything_failing = (await conn.execute(select(_FAILING.c.room_id).limit(1))).first()
        if anything_failing is not None:  # a write (SQLite's lock) only when there is a record
            async with self.store.engine.begin() as conn:
                # Nothing left to fold (another process folded it, or history was turned off):
                # the document is not failing any more.
                old_history = exists().where(
                    _HISTORY.c.room_id == _FAILING.c.room_id,
                    _HISTORY.c.doc == _FAILING.c.doc,
                    _HISTORY.c.created_at < cutoff,
                )
                await conn.execute(delete(_FAILING).where(~old_history))
        async with self.store.engine.connect() as conn:
            found = (
                await conn.execute(
                    select(_HISTORY.c.room_id, _HISTORY.c.doc, _FAILING.c.failures)
                    .select_from(_with_failures(_HISTORY))
                    .where(_HISTORY.c.created_at < cutoff, _not_waiting(now))
                    .distinct()
                    .limit(PRUNE_DOCS_PER_ROUND)
                )
            ).all()
        folded = 0
        for room_id, doc, failed_before in found:
            folded += await self.fold_doc(
                room_id, doc, cutoff=cutoff, excess=None, failed_before=failed_before, now=now
            )
        for room_id, doc, kept, failed_before in await self._oversized(now):
            excess = kept - self.max_updates
            folded += await self.fold_doc(
                room_id, doc, cutoff=None, excess=excess, failed_before=failed_before, now=now
            )
        return folded

    async def _oversized(self, now: datetime) -> list[Any]:
        """(room, doc, kept updates, failures) of the documents keeping more than
        ``max_updates`` updates of history, not waiting after a failure."""
        if self.max_updates <= 0:
            return []
        kept = func.count().label("kept")
        per_doc = (
            select(_HISTORY.c.room_id, _HISTORY.c.doc, kept)
            .group_by(_HISTORY.c.room_id, _HISTORY.c.doc)
            .having(func.count() > self.max_updates)
            .subquery()
        )
        async with self.store.engine.connect() as conn:
            rows = await conn.execute(
                select(per_doc.c.room_id, per_doc.c.doc, per_doc.c.kept, _FAILING.c.failures)
                .select_from(_with_failures(per_doc))
                .where(_not_waiting(now))
                .limit(PRUNE_DOCS_PER_ROUND)
            )
            return list(rows.all())

    async def fold_doc(
        self,
        room_id: int,
        doc: str,
        *,
        cutoff: datetime | None,
        excess: int | None,
        failed_before: int | None,
        now: datetime,
    ) -> int:
        """Fold a document's history older than ``cutoff``, or its oldest ``excess`` updates,
        into its checkpoint, a transaction per :data:`PRUNE_ROWS_PER_FOLD`; how many folded."""
        folded = 0
        try:
            while excess is None or folded < excess:
                limit = PRUNE_ROWS_PER_FOLD if excess is None else excess - folded
                count = await self._prune_doc(room_id, doc, cutoff, min(limit, PRUNE_ROWS_PER_FOLD))
                folded += count
                if count < min(limit, PRUNE_ROWS_PER_FOLD):
                    break
        except Exception as exc:
            # One document's boundary: the others go on now; it waits before its next try.
            failures, retry_at = await self._count_failure(room_id, doc, now, exc)
            log.error(
                "pruning the history of room %s doc %s failed (%d in a row; not tried "
                "again before %s)",
                room_id,
                doc,
                failures,
                retry_at.isoformat(timespec="seconds"),
                exc_info=True,
            )
        else:
            if failed_before is not None:
                async with self.store.engine.begin() as conn:
                    await conn.execute(delete(_FAILING).where(*_failing_row(room_id, doc)))
        return folded

    async def _count_failure(
        self, room_id: int, doc: str, now: datetime, exc: Exception
    ) -> tuple[int, datetime]:
        """One more failure in a row of a document, in a transaction of its own (the failed
        fold's was rolled back): how many now, and the time it may be tried again from.

        The count is one upsert, so two processes that fail on the same document at once
        both count, and neither fails on the other's new row."""
        error = f"{type(exc).__name__}: {exc}"[:PRUNE_ERROR_CHARS]
        first = _upsert_into_failing(self.store.is_sqlite)
        counted = (
            first.values(
                room_id=room_id, doc=doc, failures=1, retry_at=now + _backoff(1), error=error
            )
            .on_conflict_do_update(
                index_elements=[_FAILING.c.room_id, _FAILING.c.doc],
                set_={"failures": _FAILING.c.failures + 1, "error": first.excluded.error},
            )
            .returning(_FAILING.c.failures)
        )
        async with self.store.engine.begin() as conn:
            failures: int = (await conn.execute(counted)).scalar_one()
            retry_at = now + _backoff(failures)
            if failures > 1:
                await conn.execute(
                    update(_FAILING).where(*_failing_row(room_id, doc)).values(retry_at=retry_at)
                )
        return failures, retry_at

    async def _prune_doc(self, room_id: int, doc: str, cutoff: datetime | None, limit: int) -> int:
        async with self.store.engine.begin() as conn:
            head = (
                await conn.execute(
                    select(_CHECKPOINTS.c.data, _CHECKPOINTS.c.upto_id).where(
                        _CHECKPOINTS.c.room_id == room_id, _CHECKPOINTS.c.doc == doc
                    )
                )
            ).first()
            rows = (
                await conn.execute(
                    select(_HISTORY.c.id, _HISTORY.c.data, _HISTORY.c.created_at)
                    .where(
                        _HISTORY.c.room_id == room_id,
                        _HISTORY.c.doc == doc,
                        _HISTORY.c.created_at < cutoff if cutoff is not None else true(),
                    )
                    .order_by(_HISTORY.c.id)
                    .limit(limit)
                )
            ).all()
            if not rows:
                return 0
            merged = squashed(
                [*([bytes(head.data)] if head else []), *[bytes(r.data) for r in rows]]
            )
            upto = max([r.id for r in rows] + ([head.upto_id] if head else []))
            at = as_utc(rows[-1].created_at)
            if head is None:
                await conn.execute(
                    insert(_CHECKPOINTS).values(
                        room_id=room_id, doc=doc, data=merged, upto_id=upto, at=at
                    )
                )
            else:
                await conn.execute(
                    update(_CHECKPOINTS)
                    .where(_CHECKPOINTS.c.room_id == room_id, _CHECKPOINTS.c.doc == doc)
                    .values(data=merged, upto_id=upto, at=at)
                )
            await conn.execute(delete(_HISTORY).where(_HISTORY.c.id.in_([r.id for r in rows])))
        log.info(
            "history of room %s doc %s: %d updates folded into the checkpoint",
            room_id,
            doc,
            len(rows),
        )
        return len(rows)

    async def _prune_loop(self) -> None:
        while True:
            try:
                await self.prune()
            except Exception:
                # Task boundary: the next round retries.
                log.error("pruning the typing history failed", exc_info=True)
            await asyncio.sleep(PRUNE_EVERY_SECONDS)


def _with_failures(rows: Table | Subquery) -> Join:
    """``rows`` (with ``room_id`` and ``doc``) beside their document's failure record, if any."""
    return rows.outerjoin(
        _FAILING, and_(_FAILING.c.room_id == rows.c.room_id, _FAILING.c.doc == rows.c.doc)
    )


def _not_waiting(now: datetime) -> ColumnElement[bool]:
    """No failure record, or one whose back-off is over at ``now``."""
    return or_(_FAILING.c.retry_at.is_(None), _FAILING.c.retry_at <= now)


def _upsert_into_failing(is_sqlite: bool) -> sqlite.Insert | postgresql.Insert:
    """An ``INSERT`` into the failure record that takes ``ON CONFLICT``, in the store's
    dialect, imported only here: imported with the module, PostgreSQL's dialect cost every
    SQLite server 21 modules and 3 MiB (140 against 137 MiB with 1,000 clients, measured)."""
    if is_sqlite:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(_FAILING)
    from sqlalchemy.dialects.postgresql import insert as postgresql_insert

    return postgresql_insert(_FAILING)


def _backoff(failures: int) -> timedelta:
    """How long no process tries a document again after its ``failures``-th failure in a row."""
    rounds = min(2 ** (failures - 1), PRUNE_BACKOFF_MAX_ROUNDS)
    return timedelta(seconds=rounds * PRUNE_EVERY_SECONDS)


def _failing_row(room_id: int, doc: str) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    return _FAILING.c.room_id == room_id, _FAILING.c.doc == doc


__all__ = [
    "History",
    "HistoryStore",
    "StoredUpdate",
    "forget_history",
    "history_copy",
    "keep_history",
]
