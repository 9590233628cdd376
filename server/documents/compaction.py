"""Compaction's write: one transaction, run start to end on the document writer's thread.

Design note. A compaction reads a document's snapshot and the updates after it, merges them
outside any transaction, then writes (server/documents/store.py, "Compaction never delays a
commit"). On SQLite that write holds this process's write lock (server/sqlite_writes.py),
and while it is held no update commits inline: updates queue for the writer's thread and
their frames wait for that commit. Through the async driver the write was five statements,
each a round trip through the event loop, which a busy class keeps busy: the lock stayed
held for 15 to 20 ms, and every update typed meanwhile waited as long (the fan-out
benchmark's one room of 100 showed it as a p99 of 15 to 30 ms every 2.5 s, one compaction per
500 updates). :func:`fold` is the same transaction as one synchronous call on the writer's
thread: one hop, the lock held only for the statements themselves.

Which rows it folds. It copies into the history and deletes exactly the updates it read
(server/documents/store.py). Named by their ids, that was two ``IN`` lists of some 500 values,
each value coerced and expanded by SQLAlchemy in Python with the lock held: on SQLite a fold
took 7.0 to 12.7 ms (median 9.5), of which SQLite's own statements 2.4 to 6.5; as the range
below, 3.8 to 8.7 ms (median 5.6; 14 folds each, measured side by side). On SQLite the rows
are a range (:class:`_Rows`): one writer at a time, and AUTOINCREMENT draws an id inside the
write transaction, so ids are committed in the order they are drawn; a read that saw id N of
a document saw every id of it below N that will ever exist, and the document's rows up to
the last id read are exactly those read. On PostgreSQL ids are drawn before commit, so one
committed late may lie below the last id read: there the ids are named, as one array
parameter (``id = ANY(...)``), which took a fold from 31 to 45 ms to 19 to 26 (the DELETE
from 4.7 to 7.8 ms to 2.2 to 3.8; 10 folds each).

Where it runs. On SQLite the fold runs on the writer's thread: it needs this process's write
lock anyway, so a thread of its own would only wait for the same lock. On PostgreSQL nothing
serializes writers, and a fold there still took 19 to 26 ms, 10 to 14 of them the history's
``INSERT … SELECT`` of 500 rows: on the writer's thread every batch of updates typed
meanwhile waited behind it, and so did their frames. There :class:`FoldThread` runs folds on
a thread and connection of their own; the batches go on committing beside them (a fold
touches only rows it read, and the snapshot row, which only compactions write).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import (
    ARRAY,
    BigInteger,
    ColumnElement,
    Delete,
    Insert,
    Table,
    and_,
    any_,
    bindparam,
    delete,
    insert,
    update,
)
from sqlalchemy.engine import Connection, Engine

from server.engine_thread import EngineThread
from server.integrity.history import forget_history, history_copy, keep_history
from server.models import DocSnapshot, DocUpdate

log = logging.getLogger("classroom.docs")

_UPDATES: Table = DocUpdate.__table__  # type: ignore[attr-defined]
_SNAPSHOTS: Table = DocSnapshot.__table__  # type: ignore[attr-defined]
_ID_ARRAY = ARRAY(BigInteger)
_T = TypeVar("_T")


# The fold's statements, built once. Built anew for every fold (values, comparisons, a
# cache key each), SQLAlchemy spent more of the fold's time in Python than SQLite did in its
# statements, all with the write lock held: on SQLite, 500 updates, a fold took a median
# 4.26 ms of which 1.90 in the driver; built once, 2.47 and 1.82 (bench/compaction_bench.py,
# 21 folds each, side by side). Bound names are not column names: an INSERT or UPDATE keeps
# those for its own values.
_OF_DOC = and_(
    _UPDATES.c.room_id == bindparam("fold_room"), _UPDATES.c.doc == bindparam("fold_doc")
)


@dataclass(frozen=True, slots=True)
class _Rows:
    """The statements that name a fold's updates, as one database names them (see "Which
    rows it folds"), with the parameters they take."""

    delete: Delete
    copy: Insert  # into the typing history
    by_range: bool

    def params(self, room_id: int, doc: str, ids: list[int]) -> dict[str, Any]:
        """The updates of ``doc`` whose ids are ``ids`` (ascending, as a compaction read
        them): on SQLite the range up to the last, on PostgreSQL the ids as one array."""
        chosen: dict[str, Any] = {"fold_room": room_id, "fold_doc": doc}
        if self.by_range:
            chosen["fold_last"] = ids[-1]
        else:
            chosen["fold_ids"] = ids
        return chosen


def _rows_chosen_by(chosen: ColumnElement[bool], *, by_range: bool) -> _Rows:
    return _Rows(delete(_UPDATES).where(chosen), history_copy(chosen), by_range)


_BY_RANGE = _rows_chosen_by(and_(_OF_DOC, _UPDATES.c.id <= bindparam("fold_last")), by_range=True)
_BY_IDS = _rows_chosen_by(
    and_(_OF_DOC, _UPDATES.c.id == any_(bindparam("fold_ids", type_=_ID_ARRAY))), by_range=False
)
_NEW_SNAPSHOT = insert(_SNAPSHOTS)
_MOVE_SNAPSHOT = (
    update(_SNAPSHOTS)
    .where(
        _SNAPSHOTS.c.room_id == bindparam("fold_room"),
        _SNAPSHOTS.c.doc == bindparam("fold_doc"),
        _SNAPSHOTS.c.last_update_id == bindparam("fold_head"),
    )
    .values(
        data=bindparam("fold_merged"),
        last_update_id=bindparam("fold_last"),
        updated_at=bindparam("fold_now"),
    )
)


def fold(
    conn: Connection,
    *,
    room_id: int,
    doc: str,
    head: tuple[int, bytes] | None,
    ids: list[int],
    merged: bytes,
    now: datetime,
    history_days: float,
) -> bool:
    """Move the snapshot of ``doc`` from ``head`` to ``merged`` (which folds the updates
    ``ids``) and delete those updates; False, changing nothing, if another compaction moved
    the snapshot since ``head`` was read. The caller's transaction commits."""
    last = ids[-1]
    # SQLite, or PostgreSQL: the only other database the store opens (server/store.py).
    rows = _BY_RANGE if conn.dialect.name == "sqlite" else _BY_IDS
    chosen = rows.params(room_id, doc, ids)
    # The write comes first, so on SQLite this transaction takes the write lock at once and
    # never works from a stale read.
    if head is None:
        conn.execute(
            _NEW_SNAPSHOT,
            {
                "room_id": room_id,
                "doc": doc,
                "data": merged,
                "last_update_id": last,
                "updated_at": now,
            },
        )
    else:
        moved = conn.execute(
            _MOVE_SNAPSHOT,
            {
                "fold_room": room_id,
                "fold_doc": doc,
                "fold_head": head[0],
                "fold_merged": merged,
                "fold_last": last,
                "fold_now": now,
            },
        )
        if moved.rowcount != 1:
            log.info("compaction of room %s doc %s: snapshot moved meanwhile", room_id, doc)
            return False
    if history_days > 0:
        keep_history(
            conn,
            room_id=room_id,
            doc=doc,
            copy=rows.copy,
            chosen=chosen,
            previous_snapshot=head[1] if head else None,
            previous_last_id=head[0] if head else 0,
        )
    else:
        forget_history(conn, room_id=room_id, doc=doc)
    conn.execute(rows.delete, chosen)
    return True


class FoldThread:
    """PostgreSQL's folds, on a thread and a connection of their own (see "Where it runs"),
    each in one transaction. The connection opens on first use, from ``open_engine``."""

    def __init__(self, open_engine: Callable[[], Engine]) -> None:
        self._thread = EngineThread(open_engine, "docstore-folds")

    async def run(self, work: Callable[[Connection], _T]) -> _T:
        return await self._thread.run(partial(_in_transaction, work))

    async def close(self) -> None:
        """Once no fold runs (the store awaits its compactions first)."""
        await self._thread.close()


def _in_transaction(work: Callable[[Connection], _T], engine: Engine) -> _T:
    with engine.begin() as conn:
        return work(conn)
