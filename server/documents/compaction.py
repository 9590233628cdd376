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
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import Table, delete, insert, update
from sqlalchemy.engine import Connection

from server.integrity.history import forget_history, keep_history
from server.models import DocSnapshot, DocUpdate

log = logging.getLogger("classroom.docs")

_UPDATES: Table = DocUpdate.__table__  # type: ignore[attr-defined]
_SNAPSHOTS: Table = DocSnapshot.__table__  # type: ignore[attr-defined]


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
    # The write comes first, so on SQLite this transaction takes the write lock at once and
    # never works from a stale read.
    if head is None:
        conn.execute(
            insert(_SNAPSHOTS).values(
                room_id=room_id, doc=doc, data=merged, last_update_id=last, updated_at=now
            )
        )
    else:
        moved = conn.execute(
            update(_SNAPSHOTS)
            .where(
                _SNAPSHOTS.c.room_id == room_id,
                _SNAPSHOTS.c.doc == doc,
                _SNAPSHOTS.c.last_update_id == head[0],
            )
            .values(data=merged, last_update_id=last, updated_at=now)
        )
        if moved.rowcount != 1:
            log.info("compaction of room %s doc %s: snapshot moved meanwhile", room_id, doc)
            return False
    if history_days > 0:
        keep_history(
            conn,
            room_id=room_id,
            doc=doc,
            ids=ids,
            previous_snapshot=head[1] if head else None,
            previous_last_id=head[0] if head else 0,
        )
    else:
        forget_history(conn, room_id=room_id, doc=doc)
    conn.execute(
        delete(_UPDATES).where(
            _UPDATES.c.room_id == room_id, _UPDATES.c.doc == doc, _UPDATES.c.id.in_(ids)
        )
    )
    return True
