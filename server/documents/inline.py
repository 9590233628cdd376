"""SQLite commits of document updates on the event loop's own thread, when nobody else writes.

Design note. Every update is stored before it is broadcast (server/documents/store.py). The
writer's thread made that a hop per commit: a submit to the thread, the GIL handed over and
back, a future completed across threads, then a callback per recipient waiting on it. Under
the fan-out benchmark's many small rooms that hop and SQLAlchemy's statement machinery cost
about 0.3 ms of CPU per commit, more than the commit itself: an insert and a commit on an
open SQLite connection in WAL mode with ``synchronous=NORMAL`` are a few ``write`` calls into
the page cache, about 15 µs here (``fsync`` only at checkpoints).

Rule 1 — inline only when the write is certain to be quick. :meth:`InlineWriter.insert` runs
when this process has no write transaction open (its write lock, server/sqlite_writes.py, is
free, and the writer thread has nothing queued or in flight), and it opens its transaction
with ``BEGIN IMMEDIATE`` under a zero busy timeout: when another process holds SQLite's
lock it fails at once, and the caller queues the update for the thread, which waits its
turn there. Nothing on the loop ever waits for a lock.

Rule 2 — no checkpoint on the loop, nor under the write lock. A WAL checkpoint copies pages
into the database file and syncs it; the inline connection never starts one
(``wal_autocheckpoint=0``), and neither does any other connection of the store: their
commits hold this process's write lock, and SQLite's own checkpoint, which it starts in any
commit once the WAL holds 1,000 frames (steady typing keeps it past that), held every update
typed meanwhile (up to 57 ms, measured). The process asks for a passive checkpoint every
:data:`~server.sqlite_checkpoints.CHECKPOINT_EVERY` of its commits, inline or not, on a
thread of its own (server/sqlite_checkpoints.py): on the writer's thread a commit queued
there (while a compaction held the write lock, say) waited behind the whole first pass,
syncs included. SQLite starts the WAL over from
its beginning only when a commit finds every frame copied, and a checkpoint that inline
commits keep adding frames to never copies them all: under steady typing the WAL grew
without end (6.6 MB a second, 235 MB after 35 s in the many-rooms benchmark; every commit
writes about three pages). So the checkpoint makes two passes. The first copies what is
there while inline commits go on (about 12 ms here for 1,000 commits, most of it syncing);
the second copies the few frames they added meanwhile (under 1 ms), and while it runs
nothing commits: updates queue for the writer's thread, which waits for it
(``Checkpoints.after_last_pass``). Every frame is then copied, and the
next commit starts the WAL over. ``journal_size_limit`` cuts a WAL that a burst made large
back to :data:`JOURNAL_SIZE_LIMIT` when it starts over.

Rule 3 — the same rows as the thread's path: the statement and each column's conversion
come from SQLAlchemy's SQLite dialect for the model's table, so what is read back through
the ORM is exactly what the thread's inserts store. A foreign key that fails (the room was
deleted) raises ``sqlite3.IntegrityError``, as it does there. One exception, checked rather
than assumed: the dialect turns a timestamp into text with a format string (4 to 5 µs
here, on every update's way to its recipients); where ``datetime.isoformat`` gives the very
same text for a set of probe values, it does that instead (under 1 µs). Where it does, the
time of a commit (:meth:`InlineWriter.now`) is that text made from the clock itself: the
date and time of the current second, made once a second, then its microseconds. In the
server a ``datetime`` made for every update and then formatted took 2.8 % of the many-rooms
benchmark's CPU (perf; a few µs each on cold caches), more than either takes alone in a loop.
The text is checked like the conversion: for probe instants it must be what the dialect makes
of ``datetime.now(UTC)`` at that instant.

Rule 4 — one statement per commit. A single row is inserted by one ``INSERT`` in autocommit
mode: SQLite makes that statement its own transaction and takes the write lock as it starts,
just as ``BEGIN IMMEDIATE`` does, so it fails at once on a busy database (rule 1) and leaves
nothing behind when it fails. Several rows share one explicit transaction.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import DateTime, Table, insert
from sqlalchemy.dialects import sqlite as sqlite_dialect

from server.store import JOURNAL_SIZE_LIMIT


class InlineWriter:
    """One SQLite connection for inserting rows of one table from the event loop's thread."""

    def __init__(self, path: str, table: Table, columns: Sequence[str]) -> None:
        self.path = path
        self.columns = tuple(columns)
        dialect = sqlite_dialect.dialect()
        self._sql = str(insert(table).compile(dialect=dialect, column_keys=list(self.columns)))
        # (position, conversion) of each column the dialect converts (a timestamp to text).
        converters: list[tuple[int, Callable[[Any], Any]]] = []
        # The time of a commit as its timestamp columns take it: text where rule 3 allows.
        self._texts = True
        for position, name in enumerate(self.columns):
            column_type = table.c[name].type
            convert = column_type.dialect_impl(dialect).bind_processor(dialect)
            if convert is None:
                continue
            if isinstance(column_type, DateTime):
                quicker = quicker_timestamps(convert)
                if quicker is not _isoformat or not clock_text_agrees(convert):
                    self._texts = False
                converters.append((position, quicker))
            else:
                converters.append((position, convert))
        if self._texts:
            # Text passes through them; anything else is converted as before.
            converters = [
                (position, _stored if convert is _isoformat else convert)
                for position, convert in converters
            ]
        self._converters = tuple(converters)
        self._second = -1  # the second whose text _prefix is
        self._prefix = ""
        self._conn: sqlite3.Connection | None = None

    def open(self) -> None:
        """Connect (any thread; the connection is then used on the loop's thread only)."""
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=0")
            conn.execute("PRAGMA wal_autocheckpoint=0")
            conn.execute(f"PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT}")
            mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        except BaseException:
            conn.close()
            raise
        if str(mode).lower() != "wal":
            # Without WAL a commit syncs the file: not a write for the loop's thread.
            conn.close()
            raise sqlite3.OperationalError(f"{self.path} is not in WAL mode ({mode})")
        self._conn = conn

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def insert(self, values: Sequence[Sequence[Any]]) -> None:
        """Insert and commit rows now, each its values in :attr:`columns` order, or raise
        ``sqlite3.Error`` having changed nothing: ``OperationalError`` when the database is
        busy (queue them for the thread instead), ``IntegrityError`` when they can never be
        stored."""
        conn = self._conn
        if conn is None:
            raise sqlite3.OperationalError("the inline writer is closed")
        if len(values) == 1:
            conn.execute(self._sql, self._converted(values[0]))  # rule 4: its own transaction
            return
        rows = [self._converted(row) for row in values]
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(self._sql, rows)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def now(self) -> Any:
        """The time now, for this writer's timestamp columns: the text they store (rule 3),
        else an aware ``datetime`` for their conversion."""
        if not self._texts:
            return datetime.now(UTC)
        second, nanoseconds = divmod(time.time_ns(), 1_000_000_000)
        if second != self._second:
            self._prefix = _second_text(second)
            self._second = second
        return f"{self._prefix}.{nanoseconds // 1000:06d}"

    def _converted(self, row: Sequence[Any]) -> Sequence[Any]:
        if not self._converters:
            return row
        converted = list(row)
        for position, convert in self._converters:
            converted[position] = convert(converted[position])
        return converted


# Timestamps rule 3's quicker conversion must turn into the dialect's very text.
_PROBES = (
    datetime(2026, 12, 1, 10, 29, 54, 263909, tzinfo=UTC),
    datetime(2026, 12, 1, 10, 29, 54, tzinfo=UTC),
    datetime(1999, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
    datetime(987, 6, 5, 4, 3, 2, 100000, tzinfo=UTC),
    datetime(2026, 3, 4, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-5))),
    datetime(2026, 3, 4, 0, 0, 0, 1),
)


def _isoformat(value: datetime | None) -> str | None:
    if value is None:
        return None
    # The wall time, its offset cut off: the same text as ``value.replace(tzinfo=None)``'s,
    # without making that second datetime (about a microsecond of the commit).
    return value.isoformat(" ", "microseconds")[:26]


def _stored(value: Any) -> Any:
    """A timestamp column's value: :meth:`InlineWriter.now`'s text as it is, else converted."""
    return value if type(value) is str else _isoformat(value)


def _second_text(second: int) -> str:
    """The date and time of ``second`` after the epoch, in UTC, to the second."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(second))


def clock_text(nanoseconds: int) -> str:
    """The text :meth:`InlineWriter.now` makes of the clock reading ``nanoseconds``."""
    second, rest = divmod(nanoseconds, 1_000_000_000)
    return f"{_second_text(second)}.{rest // 1000:06d}"


# Clock readings rule 3 checks: in this century, at a second's start and end, a leap day.
_CLOCK_PROBES = (
    1_796_000_000_123_456_789,
    1_796_000_000_000_000_000,
    1_796_000_000_999_999_999,
    951_782_400_000_001_000,  # 2000-02-29
    4_102_444_799_999_999_000,  # 2099-12-31 23:59:59.999999
)


def clock_text_agrees(convert: Callable[[Any], Any]) -> bool:
    """Whether :func:`clock_text` of each probe reading is what ``convert`` makes of the
    ``datetime.now(UTC)`` of that instant (microseconds floored, as CPython's clock does)."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return all(
        clock_text(reading) == convert(epoch + timedelta(microseconds=reading // 1000))
        for reading in _CLOCK_PROBES
    )


def quicker_timestamps(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``datetime.isoformat`` in place of the dialect's timestamp conversion ``convert``,
    where the two agree on every probe value and on None (rule 3); else ``convert``."""
    for probe in (*_PROBES, None):
        if _isoformat(probe) != convert(probe):
            return convert
    return _isoformat
