"""Persistence of Yjs documents: an append-only log of updates folded into snapshots.

Design note — durability. An update is *broadcast* only after it is *stored*:
:meth:`DocStore.append` returns a future that resolves when the transaction holding the
update has committed, and every frame produced after the update (fan-out to sockets,
publish to other processes, even a step2 to a newcomer) waits on it. So a ``kill -9``
loses nothing that any client has seen from the server. The sender itself already has its
edit; if the crash beats the commit, its provider re-sends it in step2 on reconnect.

Writes are group commits with no timer: an update that finds the writer idle is
committed at once; updates that arrive while a commit is in flight wait for it and then
share the next one. So an update waits at most two commits before it is broadcast, and the
commit rate adapts to the load by itself. ``batch_ms`` (default 0) can space commit starts
further apart, for a database that must see fewer commits. Each commit is one
``INSERT`` of a list of rows, run start to end in the writer's own thread on a synchronous
connection: one hop from the event loop per commit, where the async driver needed one per
statement and each waited its turn on a busy loop. On PostgreSQL that ``INSERT`` is one
statement in autocommit mode, one round trip (server/documents/postgres_inserts.py); on SQLite
a Core ``INSERT`` in a transaction. SQLite runs in WAL mode with
``synchronous=NORMAL``, which survives a process crash. On SQLite an update that finds
nobody writing (the writer idle, this process's write lock free, no other process in a
write) skips even that hop: it is committed on the loop's thread before ``append`` returns,
a few ``write`` calls, and its frames go out in the same turn (server/documents/inline.py).

Compaction never delays a commit for long: after ``compact_after`` updates of one document it
runs as its own task. It reads the snapshot and the later updates, merges them outside any
transaction, then in one short transaction, one call on the writer's thread (SQLite) or on a
thread of its own (PostgreSQL; server/documents/compaction.py), moves the snapshot forward
only if nobody moved it meanwhile (``last_update_id`` still what it read) and deletes exactly
the updates it folded: on PostgreSQL by id, on SQLite as the range they are there
(compaction.py). So every stored update is one the snapshot lacks — including one another
process committed late on PostgreSQL with an id below the snapshot's (ids are drawn before
commit), which a range delete would have lost there. ``last_update_id`` is the highest id
folded; folded ids are deleted and never reused, so it never takes a value twice. A load
reads the snapshot, every stored update, and the snapshot's ``last_update_id`` again; if a
compaction moved it in between, it reads again.

Typing history. An update is stored with its author and the characters it inserted. With
``history_days > 0`` the compaction transaction also copies the updates it folds into the
history table (server/integrity/history.py), so a document stays replayable update by update
for that long; the history pruner folds older ones into a checkpoint. With ``history_days``
0 it drops whatever an earlier setting kept of that document.

The wait for the commit alone, from ``append`` to its future resolving (inline or through
the writer's thread, lock and checkpoint waits included), is observed by ``commit_wait``
(``classroom_doc_commit_wait_seconds``): a fan-out's hand-off holds it and the event loop's
own queue, and this tells the two apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Table, func, insert
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from rooms.snapshots import squashed
from server.documents.compaction import FoldThread, fold
from server.documents.inline import InlineWriter
from server.models import DocSnapshot, DocUpdate
from server.models.clock import as_utc, utcnow
from server.store import Store

if TYPE_CHECKING:  # imported by start() on PostgreSQL only (postgres_inserts.py: memory)
    from server.documents.postgres_inserts import AutocommitInserter

log = logging.getLogger("classroom.docs")

DocKey = tuple[int, str]
_RETRY_MAX_SECONDS = 2.0
# Updates one compaction folds at most (a document loaded with a backlog takes several).
FOLD_AT_MOST = 1000
_UPDATES: Table = DocUpdate.__table__  # type: ignore[attr-defined]
_SNAPSHOTS: Table = DocSnapshot.__table__  # type: ignore[attr-defined]
_COLUMNS = ("room_id", "doc", "data", "created_at", "author_id", "inserted", "inserted_key")
Row = tuple[Any, ...]  # the values of _COLUMNS, in that order
_T = TypeVar("_T")


def _writer_engine(store: Store) -> Engine:
    """A synchronous engine with one connection, for the writer's own thread. No ping before
    each batch (a round trip each, hundreds a second): a batch that meets a dropped
    connection fails, the connection is replaced and _store_batch tries again."""
    return store.one_connection_engine(ping=False)


def _once(store: Store, work: Callable[[Connection], _T]) -> _T:
    """``work`` in one transaction on a connection opened for it alone."""
    engine = _writer_engine(store)
    try:
        with engine.begin() as conn:
            return work(conn)
    finally:
        engine.dispose()


def _insert_rows(rows: list[Row], conn: Connection) -> None:
    """One multi-row INSERT of document updates."""
    conn.execute(insert(_UPDATES), [dict(zip(_COLUMNS, row, strict=True)) for row in rows])


@dataclass
class _Pending:
    key: DocKey
    updates: list[bytes]
    stored: asyncio.Future[None]  # resolved once committed (made on the store's loop)
    author: int | None = None
    inserted: int = 0
    inserted_key: int | None = None
    since: float = field(default_factory=time.perf_counter)


def _rows(batch: list[_Pending]) -> list[Row]:
    now = utcnow()
    return [
        (p.key[0], p.key[1], update, now, p.author, p.inserted, p.inserted_key)
        if i == 0
        else (p.key[0], p.key[1], update, now, p.author, 0, None)
        for p in batch
        for i, update in enumerate(p.updates)
    ]


class DocStore:
    """Stores and loads documents. ``start`` launches the writer; ``close`` drains it."""

    def __init__(
        self,
        store: Store,
        *,
        compact_after: int = 500,
        batch_ms: float = 0.0,
        history_days: float = 0.0,
        commit_wait: Callable[[float], None] | None = None,
    ) -> None:
        """``commit_wait`` observes each append's wait for its commit, in seconds."""
        self.store = store
        self.history_days = history_days
        self.compact_after = compact_after
        self.batch_seconds = batch_ms / 1000
        self._queue: asyncio.Queue[_Pending | None] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None
        self._thread: ThreadPoolExecutor | None = None
        self._engine: Engine | None = None
        self._inserter: AutocommitInserter | None = None  # PostgreSQL's, on the thread
        self._loop: asyncio.AbstractEventLoop | None = None
        self._folds: FoldThread | None = None  # PostgreSQL's (compaction.py, "Where it runs")
        self._observe = commit_wait or (lambda _seconds: None)
        self._since_compaction: Counter[DocKey] = Counter()
        # Called with (room, doc, count) once a compaction copied count updates into history.
        self.kept_history: list[Callable[[int, str, int], None]] = []
        self._compacting: dict[DocKey, asyncio.Task[None]] = {}
        # SQLite only: commits on the loop's thread when nobody else writes (inline.py).
        self._inline: InlineWriter | None = None
        self._batch_running = False
        # What append returns for updates committed inline: resolved once, shared by all.
        self._committed: asyncio.Future[None] | None = None

    async def start(self) -> None:
        if self._writer is None:
            self._loop = asyncio.get_running_loop()
            self._committed = self._loop.create_future()
            self._committed.set_result(None)
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="docstore-writer")
            self._writer = asyncio.create_task(self._write_loop(), name="docstore-writer")
            if not self.store.is_sqlite:
                self._folds = FoldThread(partial(self.store.one_connection_engine, ping=True))
                from server.documents.postgres_inserts import AutocommitInserter

                self._engine = _writer_engine(self.store)
                self._inserter = AutocommitInserter(self._engine, _UPDATES, _COLUMNS)
            await self._open_inline()

    async def _open_inline(self) -> None:
        path = make_url(self.store.url).database if self.store.is_sqlite else None
        if not path or path == ":memory:" or self.batch_seconds > 0:
            return
        writer = InlineWriter(path, _UPDATES, _COLUMNS)
        try:
            await asyncio.get_running_loop().run_in_executor(self._thread, writer.open)
        except sqlite3.Error as exc:
            log.warning("document updates commit on the writer's thread only: %s", exc)
            return
        self._inline = writer

    async def close(self) -> None:
        """Store everything queued, finish running compactions, then stop the writer."""
        if self._writer is None:
            return
        self._queue.put_nowait(None)
        with contextlib.suppress(asyncio.CancelledError):
            await self._writer
        self._writer = None
        if self._compacting:
            await asyncio.gather(*self._compacting.values(), return_exceptions=True)
        folds, self._folds = self._folds, None
        if folds is not None:
            await folds.close()
        inline, self._inline = self._inline, None
        if inline is not None:
            inline.close()
        engine, self._engine = self._engine, None
        inserter, self._inserter = self._inserter, None
        thread, self._thread = self._thread, None
        if thread is not None:
            loop = asyncio.get_running_loop()
            if inserter is not None:
                await loop.run_in_executor(thread, inserter.close)
            if engine is not None:
                await loop.run_in_executor(thread, engine.dispose)
            thread.shutdown()

    def append(
        self,
        room_id: int,
        doc: str,
        updates: list[bytes],
        *,
        author: int | None = None,
        inserted: int = 0,
        inserted_key: int | None = None,
    ) -> asyncio.Future[None]:
        """Queue updates of one document; the future resolves once they are committed.
        ``author`` sent them; ``inserted`` characters of text came with them (whose
        ``inserted_key`` is rooms/integrity/replay.py ``text_key``)."""
        key = (room_id, doc)
        if (
            self._inline is not None
            and self._may_write_inline()
            and self._write_inline(key, updates, author, inserted, inserted_key)
        ):
            assert self._committed is not None
            return self._committed  # committed: every such caller shares one resolved future
        # On the loop start() saw: asyncio.get_running_loop() costs a getpid() system call
        # each time on CPython 3.11, and this runs once per update on PostgreSQL.
        loop = self._loop or asyncio.get_running_loop()
        stored: asyncio.Future[None] = loop.create_future()
        self._queue.put_nowait(_Pending(key, list(updates), stored, author, inserted, inserted_key))
        return stored

    def _may_write_inline(self) -> bool:
        """inline.py rules 1 and 2: nothing queued or in flight on the thread (a checkpoint
        included), nobody else writing."""
        lock = self.store.write_lock
        return (
            not self._batch_running
            and not (self.store.checkpoints is not None and self.store.checkpoints.last_pass)
            and self._queue.empty()
            and (lock is None or not lock.held)
            and self._writer is not None
        )

    def _write_inline(
        self,
        key: DocKey,
        updates: list[bytes],
        author: int | None,
        inserted: int,
        inserted_key: int | None,
    ) -> bool:
        """Commit ``updates`` now on this thread, as :func:`_rows` would store them; False
        when they must go to the thread."""
        assert self._inline is not None
        room_id, doc = key
        now = self._inline.now()  # as its timestamp column stores it (inline.py rule 3)
        started = time.perf_counter()
        try:
            self._inline.insert(
                [
                    (room_id, doc, data, now, author, inserted, inserted_key)
                    if i == 0
                    else (room_id, doc, data, now, author, 0, None)
                    for i, data in enumerate(updates)
                ]
            )
        except sqlite3.IntegrityError:
            log.error("storing %d document updates failed for good", len(updates))
        except sqlite3.Error as exc:
            log.debug("inline commit declined (%s); the writer's thread takes it", exc)
            return False
        else:
            self._observe(time.perf_counter() - started)
        self._since_compaction[key] += len(updates)
        if self._since_compaction[key] >= self.compact_after:
            self._start_compaction(key)
        if self.store.checkpoints is not None:
            # A commit without the write lock, whose release counts the others.
            self.store.checkpoints.committed()
        return True

    async def _write_loop(self) -> None:
        loop = asyncio.get_running_loop()
        last_start = -self.batch_seconds
        stopping = False
        while not stopping:
            first = await self._queue.get()
            if first is None:
                break
            self._batch_running = True
            wait = last_start + self.batch_seconds - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            last_start = loop.time()
            # Everything that queued up while the previous commit ran goes into this one.
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
            stored_at = time.perf_counter()
            for pending in batch:
                if not pending.stored.done():
                    pending.stored.set_result(None)
                self._observe(stored_at - pending.since)
            self._batch_running = False
            for key in {p.key for p in batch}:
                if self._since_compaction[key] >= self.compact_after:
                    self._start_compaction(key)

    async def _store_batch(self, batch: list[_Pending]) -> None:
        rows = _rows(batch)
        delay = 0.05
        while True:
            try:
                # One hop to the writer's thread per commit: the event loop serves each
                # statement of an async driver in turn, and a busy loop made those wait.
                if self._inserter is not None and self._thread is not None:
                    loop = asyncio.get_running_loop()
                    await loop.run_in_executor(self._thread, self._inserter.insert, rows)
                else:
                    await self._write_on_thread(partial(_insert_rows, rows))
                break
            except IntegrityError:
                # No retry can fix this (the room was deleted): say so and let the edits flow.
                log.error("storing %d document updates failed for good", len(rows), exc_info=True)
                break
            except (OperationalError, DBAPIError, OSError) as exc:
                log.warning("storing document updates failed (%s); retrying in %.2fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, _RETRY_MAX_SECONDS)
        for pending in batch:
            self._since_compaction[pending.key] += len(pending.updates)

    async def _write_on_thread(self, work: Callable[[Connection], _T]) -> _T:
        """``work`` in one transaction on the writer's thread, in this process's turn to
        write (server/sqlite_writes.py), never during a checkpoint's second pass (inline.py
        rule 2). Before ``start`` or after ``close``, on a connection of its own."""
        if self.store.checkpoints is not None:
            await self.store.checkpoints.after_last_pass()
        lock = self.store.write_lock
        async with lock if lock is not None else contextlib.nullcontext():
            if self._thread is None:
                return await asyncio.to_thread(_once, self.store, work)
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._thread, self._in_transaction, work)

    def _in_transaction(self, work: Callable[[Connection], _T]) -> _T:
        """On the writer's thread, on its one connection."""
        if self._engine is None:
            self._engine = _writer_engine(self.store)
        with self._engine.begin() as conn:
            return work(conn)

    def _start_compaction(self, key: DocKey) -> None:
        if key in self._compacting:
            return
        task = asyncio.create_task(self._compact_logged(key), name=f"compact-{key[0]}-{key[1]}")
        self._compacting[key] = task

    async def _compact_logged(self, key: DocKey) -> None:
        try:
            # Updates appended while it ran may have reached the threshold again; a few
            # rounds, so a document that never goes quiet cannot keep this task alive.
            for _ in range(3):
                await self.compact(*key)
                if self._since_compaction[key] < self.compact_after:
                    break
        except (OperationalError, IntegrityError, DBAPIError) as exc:
            # Another process compacted at the same moment; the next threshold retries.
            log.info("compaction of room %s doc %s skipped: %s", key[0], key[1], exc)
            self._since_compaction[key] = self.compact_after // 2
        except Exception:
            log.error("compaction of room %s doc %s failed", key[0], key[1], exc_info=True)
            self._since_compaction[key] = 0
        finally:
            # Here, not in a done-callback: the writer's next batch must see it finished.
            self._compacting.pop(key, None)

    async def compact(self, room_id: int, doc: str) -> int:
        """Fold the updates of a document into its snapshot; return how many were folded.

        Safe while updates are appended, by any process: it deletes exactly the updates it
        read and folded, the oldest :data:`FOLD_AT_MOST` of them (the merge runs on the event
        loop: rooms/snapshots.py, 500 typed characters into a file of 60,000 about 1 ms).
        Returns 0 when another compaction moved the snapshot first."""
        key = (room_id, doc)
        counted = self._since_compaction[key]
        async with self.store.session() as session:
            head = await self._snapshot_head(session, room_id, doc)
            rows = (
                await session.exec(
                    select(DocUpdate.id, DocUpdate.data)
                    .where(DocUpdate.room_id == room_id, DocUpdate.doc == doc)
                    .order_by(col(DocUpdate.id))
                    .limit(FOLD_AT_MOST)
                )
            ).all()
        if not rows:
            self._since_compaction[key] = 0
            return 0
        merged = squashed([*([head[1]] if head else []), *[data for _, data in rows]])
        ids = [update_id for update_id, _ in rows if update_id is not None]
        on_thread = self._write_on_thread if self._folds is None else self._folds.run
        moved = await on_thread(
            partial(
                fold,
                room_id=room_id,
                doc=doc,
                head=head,
                ids=ids,
                merged=merged,
                now=utcnow(),
                history_days=self.history_days,
            )
        )
        if not moved:
            return 0
        self._since_compaction[key] = max(0, self._since_compaction[key] - min(counted, len(rows)))
        log.info("compacted room %s doc %s: %d updates into the snapshot", room_id, doc, len(rows))
        if self.history_days > 0:
            for listener in self.kept_history:  # server/integrity/growth.py
                listener(room_id, doc, len(rows))
        return len(rows)

    async def load(self, room_id: int, doc: str) -> list[bytes]:
        """The stored updates of a document, snapshot first; empty for a new document."""
        return await self.read(room_id, doc, counted=True)

    async def read(self, room_id: int, doc: str, *, counted: bool = False) -> list[bytes]:
        """What :meth:`load` returns; ``counted``: the caller will append to the document, so
        its unfolded updates count towards this process's next compaction of it."""
        for _ in range(10):
            async with self.store.session() as session:
                snapshot = await self._snapshot_head(session, room_id, doc)
                after = snapshot[0] if snapshot else 0
                # Every stored update is one the snapshot does not hold: compaction deletes
                # exactly what it folds (an id below the snapshot's may still be unfolded).
                rows = (
                    await session.exec(
                        select(DocUpdate.data)
                        .where(DocUpdate.room_id == room_id, DocUpdate.doc == doc)
                        .order_by(col(DocUpdate.id))
                    )
                ).all()
                again = await self._snapshot_head(session, room_id, doc)
            if (again[0] if again else 0) == after:
                if counted:
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
                if doc not in changed or as_utc(changed[doc]) < as_utc(at):
                    changed[doc] = at
        return {doc: as_utc(at) for doc, at in changed.items()}
