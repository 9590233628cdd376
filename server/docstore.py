"""Persistence of Yjs documents: an append-only log of updates folded into snapshots.

Design note — durability. An update is *broadcast* only after it is *stored*:
:meth:`DocStore.append` returns a future that resolves when the transaction holding the
update has committed, and every frame produced after the update (fan-out to sockets,
publish to other processes, even a step2 to a newcomer) waits on it. So a ``kill -9``
loses nothing that any client has seen from the server. The sender itself already has its
edit; if the crash beats the commit, its provider re-sends it in step2 on reconnect.

Writes are group commits: the writer takes everything queued and stores it in one
transaction. Transactions start at most every ``batch_ms``: an update that finds the writer
idle and the last commit older than that is stored at once (about a millisecond on SQLite);
under load, updates arriving within ``batch_ms`` share one transaction, so the database sees
at most ``1000 / batch_ms`` commits a second and an update waits at most ``batch_ms`` plus
one commit before it is broadcast. SQLite runs in WAL mode with ``synchronous=NORMAL``,
which survives a process crash.

Compaction: after ``compact_after`` updates of one document (counted since it was loaded
here), the snapshot and the later updates are merged into a new snapshot and those updates
deleted, in one transaction that first locks the snapshot row (PostgreSQL) so two processes
cannot interleave. A load reads the snapshot, the later updates, and the snapshot's
``last_update_id`` again; if a compaction moved it in between, it reads again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pycrdt
from sqlalchemy import delete, func
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.models import DocSnapshot, DocUpdate
from server.models.clock import utcnow
from server.store import Store

log = logging.getLogger("classroom.docs")

DocKey = tuple[int, str]
_RETRY_MAX_SECONDS = 2.0


@dataclass
class _Pending:
    key: DocKey
    updates: list[bytes]
    stored: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class DocStore:
    """Stores and loads documents. ``start`` launches the writer; ``close`` drains it."""

    def __init__(self, store: Store, *, compact_after: int = 500, batch_ms: float = 5.0) -> None:
        self.store = store
        self.compact_after = compact_after
        self.batch_seconds = batch_ms / 1000
        self._queue: asyncio.Queue[_Pending | None] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None
        self._since_compaction: Counter[DocKey] = Counter()

    async def start(self) -> None:
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_loop(), name="docstore-writer")

    async def close(self) -> None:
        """Store everything queued, then stop the writer."""
        if self._writer is None:
            return
        self._queue.put_nowait(None)
        with contextlib.suppress(asyncio.CancelledError):
            await self._writer
        self._writer = None

    def append(self, room_id: int, doc: str, updates: list[bytes]) -> asyncio.Future[None]:
        """Queue updates of one document; the future resolves once they are committed."""
        pending = _Pending((room_id, doc), list(updates))
        self._queue.put_nowait(pending)
        return pending.stored

    async def _write_loop(self) -> None:
        loop = asyncio.get_running_loop()
        last_start = -self.batch_seconds
        stopping = False
        while not stopping:
            first = await self._queue.get()
            if first is None:
                break
            wait = last_start + self.batch_seconds - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)  # gather this window's updates into one commit
            last_start = loop.time()
            batch = [first]
            while not self._queue.empty():
                item = self._queue.get_nowait()
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            try:
                await self._store_batch(batch)
            except Exception:
                # Task boundary: never leave the broadcasts waiting on a dead writer.
                log.error("document writer failed on a batch", exc_info=True)
            for pending in batch:
                if not pending.stored.done():
                    pending.stored.set_result(None)
            for key in {p.key for p in batch}:
                if self._since_compaction[key] >= self.compact_after:
                    await self._compact_logged(key)

    async def _store_batch(self, batch: list[_Pending]) -> None:
        delay = 0.05
        while True:
            try:
                async with self.store.session() as session:
                    now = utcnow()
                    for pending in batch:
                        room_id, doc = pending.key
                        for update in pending.updates:
                            session.add(
                                DocUpdate(room_id=room_id, doc=doc, data=update, created_at=now)
                            )
                break
            except IntegrityError:
                # No retry can fix this (the room was deleted): say so and let the edits flow.
                log.error("storing %d document updates failed for good", len(batch), exc_info=True)
                break
            except (OperationalError, DBAPIError, OSError) as exc:
                log.warning("storing document updates failed (%s); retrying in %.2fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, _RETRY_MAX_SECONDS)
        for pending in batch:
            self._since_compaction[pending.key] += len(pending.updates)

    async def _compact_logged(self, key: DocKey) -> None:
        try:
            await self.compact(*key)
        except (OperationalError, IntegrityError, DBAPIError) as exc:
            # Another process compacted at the same moment; the next threshold retries.
            log.info("compaction of room %s doc %s skipped: %s", key[0], key[1], exc)
            self._since_compaction[key] = self.compact_after // 2
        except Exception:
            log.error("compaction of room %s doc %s failed", key[0], key[1], exc_info=True)
            self._since_compaction[key] = 0

    async def compact(self, room_id: int, doc: str) -> int:
        """Fold the updates of a document into its snapshot; return how many were folded."""
        async with self.store.session() as session:
            snapshot = (
                await session.exec(
                    select(DocSnapshot)
                    .where(DocSnapshot.room_id == room_id, DocSnapshot.doc == doc)
                    .with_for_update()
                )
            ).first()
            after = snapshot.last_update_id if snapshot else 0
            rows = (
                await session.exec(
                    select(DocUpdate.id, DocUpdate.data)
                    .where(
                        DocUpdate.room_id == room_id,
                        DocUpdate.doc == doc,
                        col(DocUpdate.id) > after,
                    )
                    .order_by(col(DocUpdate.id))
                )
            ).all()
            if not rows:
                self._since_compaction[(room_id, doc)] = 0
                return 0
            parts = ([snapshot.data] if snapshot else []) + [data for _, data in rows]
            merged = pycrdt.merge_updates(*parts)
            last = rows[-1][0]
            assert last is not None
            if snapshot is None:
                snapshot = DocSnapshot(room_id=room_id, doc=doc, data=merged, last_update_id=last)
            else:
                snapshot.data = merged
                snapshot.last_update_id = last
                snapshot.updated_at = utcnow()
            session.add(snapshot)
            await session.exec(
                delete(DocUpdate).where(
                    col(DocUpdate.room_id) == room_id,
                    col(DocUpdate.doc) == doc,
                    col(DocUpdate.id) <= last,
                )
            )
        self._since_compaction[(room_id, doc)] = 0
        log.info("compacted room %s doc %s: %d updates into the snapshot", room_id, doc, len(rows))
        return len(rows)

    async def load(self, room_id: int, doc: str) -> list[bytes]:
        """The stored updates of a document, snapshot first; empty for a new document."""
        for _ in range(10):
            async with self.store.session() as session:
                snapshot = await self._snapshot_head(session, room_id, doc)
                after = snapshot[0] if snapshot else 0
                rows = (
                    await session.exec(
                        select(DocUpdate.data)
                        .where(
                            DocUpdate.room_id == room_id,
                            DocUpdate.doc == doc,
                            col(DocUpdate.id) > after,
                        )
                        .order_by(col(DocUpdate.id))
                    )
                ).all()
                again = await self._snapshot_head(session, room_id, doc)
            if (again[0] if again else 0) == after:
                self._since_compaction[(room_id, doc)] = len(rows)
                return ([snapshot[1]] if snapshot else []) + list(rows)
        raise RuntimeError(f"room {room_id} doc {doc}: snapshot kept moving during load")

    @staticmethod
    async def _snapshot_head(
        session: AsyncSession, room_id: int, doc: str
    ) -> tuple[int, bytes] | None:
        row = (
            await session.exec(
                select(DocSnapshot.last_update_id, DocSnapshot.data).where(
                    DocSnapshot.room_id == room_id, DocSnapshot.doc == doc
                )
            )
        ).first()
        return (int(row[0]), bytes(row[1])) if row else None

    async def changed_at(self, room_id: int) -> dict[str, datetime]:
        """Each stored document of a room and when it last changed."""
        async with self.store.session() as session:
            latest = await session.exec(
                select(DocUpdate.doc, func.max(DocUpdate.created_at))
                .where(DocUpdate.room_id == room_id)
                .group_by(DocUpdate.doc)
            )
            changed: dict[str, datetime] = {doc: at for doc, at in latest.all() if at is not None}
            snapshots = await session.exec(
                select(DocSnapshot.doc, DocSnapshot.updated_at).where(
                    DocSnapshot.room_id == room_id
                )
            )
            for doc, at in snapshots.all():
                if doc not in changed or _aware(changed[doc]) < _aware(at):
                    changed[doc] = at
        return {doc: _aware(at) for doc, at in changed.items()}


def _aware(at: datetime) -> datetime:
    # SQLite hands back naive datetimes for timezone-aware columns; they were stored in UTC.
    return at if at.tzinfo else at.replace(tzinfo=UTC)
