"""DocStore on SQLite commits on the loop's thread when nobody else writes (inline.py), and
queues for its thread when somebody does: this process, another process, or a checkpoint."""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import random
import shutil
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import DateTime
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import make_url
from sqlmodel import select

from server import sqlite_checkpoints
from server.documents import inline as inline_module
from server.documents import store as store_module
from server.documents.store import DocStore
from server.models import DocUpdate
from server.models.clock import as_utc, utcnow
from server.store import Store
from tests.server.documents.test_store import Typist, a_room, text_of

DATABASES = ("sqlite",)


def path_of(store: Store) -> str:
    path = make_url(store.url).database
    assert path
    return path


async def checkpointing_every_10(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> tuple[int, DocStore, Typist]:
    """A room and a started DocStore whose process checkpoints after every 10 commits,
    counted from here."""
    monkeypatch.setattr(sqlite_checkpoints, "CHECKPOINT_EVERY", 10)
    room = await a_room(store)
    docs = DocStore(store, compact_after=10_000)
    await docs.start()
    assert store.checkpoints is not None
    store.checkpoints.since = 0  # the room's rows were commits too
    return room, docs, Typist()


def docs_checkpoint(docs: DocStore) -> asyncio.Future[None] | None:
    """The pass of a WAL checkpoint running now, if any (inline.py rule 2)."""
    assert docs.store.checkpoints is not None
    return docs.store.checkpoints.running


def stored_texts(path: str) -> list[bytes]:
    """The updates in the file, read by a connection of another "process"."""
    conn = sqlite3.connect(path)
    try:
        return [row[0] for row in conn.execute("SELECT data FROM doc_updates ORDER BY id")]
    finally:
        conn.close()


async def test_an_update_is_committed_before_append_returns(store: Store) -> None:
    room = await a_room(store)
    docs = DocStore(store)
    await docs.start()
    typist = Typist()
    before = utcnow()
    try:
        for c in "hey":
            stored = docs.append(room, "demo", [typist.type(c)], author=1, inserted=1)
            # No await in between: committed on this thread, readable by anyone at once.
            assert stored.done()
            assert stored_texts(path_of(store))[-1] == typist.updates[-1]
        assert text_of(await docs.load(room, "demo")) == "hey"
        async with store.session() as session:
            rows = (
                await session.exec(
                    select(DocUpdate.author_id, DocUpdate.inserted, DocUpdate.created_at)
                )
            ).all()
        assert [(r[0], r[1]) for r in rows] == [(1, 1)] * 3
        # Stored in the dialect's format: the ORM reads the timestamps back, each the time
        # of its commit, and the text is what the dialect makes of that time.
        after = utcnow()
        assert all(before <= as_utc(r[2]) <= after for r in rows)
        dialect = sqlite_dialect.dialect()
        convert = DateTime(timezone=True).dialect_impl(dialect).bind_processor(dialect)
        assert convert is not None
        conn = sqlite3.connect(path_of(store))
        try:
            texts = [t for (t,) in conn.execute("SELECT created_at FROM doc_updates ORDER BY id")]
        finally:
            conn.close()
        assert texts == [convert(r[2]) for r in rows]
        changed = await docs.changed_at(room)
        assert set(changed) == {"demo"}
    finally:
        await docs.close()


async def test_a_write_of_this_process_in_progress_makes_updates_wait_their_turn(
    store: Store,
) -> None:
    room = await a_room(store)
    docs = DocStore(store)
    await docs.start()
    typist = Typist()
    lock = store.write_lock
    assert lock is not None
    try:
        await lock.acquire()  # what a session does at its first INSERT
        stored = docs.append(room, "demo", [typist.type("a")])
        assert not stored.done()
        later = docs.append(room, "demo", [typist.type("b")])
        # Queued behind the first, not committed past it on this thread.
        assert not later.done()
        lock.release()
        await asyncio.wait_for(asyncio.gather(stored, later), 5)
        assert text_of(stored_texts(path_of(store))) == "ab"
    finally:
        await docs.close()


async def test_another_process_holding_the_lock_never_blocks_the_loop(store: Store) -> None:
    room = await a_room(store)
    docs = DocStore(store)
    await docs.start()
    typist = Typist()
    other = sqlite3.connect(path_of(store), isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process is writing
        began = time.perf_counter()
        stored = docs.append(room, "demo", [typist.type("x")])
        # Declined at once (busy timeout 0 on the loop; waiting there would take the
        # 10-s busy timeout), handed to the writer's thread, which waits in SQLite's busy
        # handler while the loop goes on.
        assert time.perf_counter() - began < 1.0
        assert not stored.done()
        await asyncio.sleep(0)  # the writer task takes it to its thread
        assert not stored.done()
        other.execute("COMMIT")
        await asyncio.wait_for(stored, 15)
        assert text_of(stored_texts(path_of(store))) == "x"
        # With the other process gone, the next update is inline again.
        assert docs.append(room, "demo", [typist.type("y")]).done()
    finally:
        if other.in_transaction:
            other.execute("ROLLBACK")
        other.close()
        await docs.close()


async def test_an_update_for_a_deleted_room_is_refused_and_the_rest_go_on(store: Store) -> None:
    room = await a_room(store)
    docs = DocStore(store)
    await docs.start()
    typist = Typist()
    try:
        refused = docs.append(room + 1000, "demo", [Typist().type("lost")])
        # Resolved, so no broadcast waits forever; logged; nothing stored.
        assert refused.done() and refused.exception() is None
        assert docs.append(room, "demo", [typist.type("ok")]).done()
        assert text_of(stored_texts(path_of(store))) == "ok"
    finally:
        await docs.close()


async def test_updates_of_one_frame_are_committed_together_or_not_at_all(store: Store) -> None:
    room = await a_room(store)
    docs = DocStore(store)
    await docs.start()
    typist = Typist()
    try:
        both = [typist.type("a"), typist.type("b")]
        assert docs.append(room, "demo", both, author=1, inserted=2).done()
        conn = sqlite3.connect(path_of(store))
        try:
            rows = conn.execute(
                "SELECT author_id, inserted FROM doc_updates ORDER BY id"
            ).fetchall()
        finally:
            conn.close()
        assert rows == [(1, 2), (1, 0)]  # the text count rides on the first, as on the thread
        lost = Typist()
        refused = docs.append(room + 1000, "demo", [lost.type("x"), lost.type("y")])
        assert refused.done() and refused.exception() is None
        assert text_of(stored_texts(path_of(store))) == "ab"  # neither of the refused two
        assert docs.append(room, "demo", [typist.type("c")]).done()  # no transaction left open
        assert text_of(stored_texts(path_of(store))) == "abc"
    finally:
        await docs.close()


def test_timestamps_take_the_quicker_conversion_only_where_it_gives_the_same_text() -> None:
    dialect = sqlite_dialect.dialect()
    convert = DateTime(timezone=True).dialect_impl(dialect).bind_processor(dialect)
    assert convert is not None
    quicker = inline_module.quicker_timestamps(convert)
    assert quicker is not convert  # what the installed SQLAlchemy gives, isoformat gives
    rng = random.Random(17)
    first, span = (
        datetime(1, 1, 1, tzinfo=UTC),
        datetime.max.replace(tzinfo=UTC) - datetime(1, 1, 1, tzinfo=UTC),
    )
    for _ in range(2000):
        moment = first + timedelta(microseconds=rng.randrange(span // timedelta(microseconds=1)))
        for zone in (UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=5.75)), None):
            assert quicker(moment.replace(tzinfo=zone)) == convert(moment.replace(tzinfo=zone))
    assert quicker(None) is None
    # A conversion that differs anywhere is kept as it is.
    differs = lambda value: None if value is None else value.strftime("%Y-%m-%dT%H:%M:%S")  # noqa: E731
    assert inline_module.quicker_timestamps(differs) is differs


def test_the_clocks_text_is_the_dialects_text_of_the_same_instant(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """inline.py rule 3: a commit's time made as text from the clock, where the dialect's
    conversion agrees on the probe instants; else a datetime, as before."""
    dialect = sqlite_dialect.dialect()
    convert = DateTime(timezone=True).dialect_impl(dialect).bind_processor(dialect)
    assert convert is not None
    assert inline_module.clock_text_agrees(convert)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    rng = random.Random(29)
    for _ in range(5000):
        reading = rng.randrange(4_102_444_800 * 10**9)  # to the end of 2099
        instant = epoch + timedelta(microseconds=reading // 1000)
        assert inline_module.clock_text(reading) == convert(instant)
    writer = inline_module.InlineWriter(":memory:", DocUpdate.__table__, ["created_at"])  # type: ignore[attr-defined]
    before = convert(utcnow())
    now = writer.now()
    assert isinstance(now, str) and before <= now <= convert(utcnow())
    # The second's text is made once a second, the microseconds every time.
    readings = iter(
        [1_796_000_000_999_999_000, 1_796_000_000_999_999_999, 1_796_000_001_000_001_000]
    )
    monkeypatch.setattr(inline_module.time, "time_ns", lambda: next(readings))
    assert [writer.now() for _ in range(3)] == [
        "2026-11-30 00:53:20.999999",
        "2026-11-30 00:53:20.999999",
        "2026-11-30 00:53:21.000001",
    ]
    # A conversion that differs leaves the writer giving datetimes for it to convert.
    differs = lambda value: None if value is None else value.strftime("%Y-%m-%dT%H:%M:%S")  # noqa: E731
    assert not inline_module.clock_text_agrees(differs)


async def test_inline_commits_are_checkpointed_into_the_database_file(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    room, docs, typist = await checkpointing_every_10(store, monkeypatch)
    try:
        for i in range(10):
            assert docs.append(room, "demo", [typist.type(str(i))]).done()
        assert docs_checkpoint(docs) is not None  # started on its own thread, not on this one
        while (checkpoint := docs_checkpoint(docs)) is not None:  # both passes
            await asyncio.wait_for(checkpoint, 10)
        # The database file alone, without its WAL, now holds every update.
        copy = tmp_path / "copy.db"
        shutil.copyfile(path_of(store), copy)
        assert text_of(stored_texts(str(copy))) == "0123456789"
    finally:
        await docs.close()


async def test_the_wal_starts_over_after_each_checkpoint_under_steady_commits(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Typing goes on inline during a checkpoint's first pass; an update during its second
    pass waits for it on the thread, so every frame gets copied and the next commit writes
    the WAL from its beginning: under steady typing the file stops growing. (Committed
    inline throughout, the updates kept every checkpoint from copying them all, and the WAL
    grew by every commit, forever.)

    Each pass is held at a gate, so that no commit of this test runs while a pass works in
    SQLite: a commit that meets a running checkpoint may, rarely, find the database busy and
    be declined to the writer's thread (rule 1), which is right but not what is tested here."""
    gate = threading.Semaphore(0)
    copied = threading.Event()
    passes = itertools.count()
    real_checkpoint = sqlite_checkpoints.checkpoint

    def gated_checkpoint(path: str, busy_timeout_ms: int) -> None:
        if next(passes) % 2 == 0:  # a first pass: copies, then waits to be let finish
            real_checkpoint(path, busy_timeout_ms)
            copied.set()
            assert gate.acquire(timeout=30)
        else:  # a second pass: waits to be let start, then copies
            assert gate.acquire(timeout=30)
            real_checkpoint(path, busy_timeout_ms)

    monkeypatch.setattr(sqlite_checkpoints, "checkpoint", gated_checkpoint)
    room, docs, typist = await checkpointing_every_10(store, monkeypatch)
    wal = path_of(store) + "-wal"
    sizes: list[int] = []
    try:
        for _ in range(6):
            copied.clear()
            while (first := docs_checkpoint(docs)) is None:
                assert docs.append(room, "demo", [typist.type("0")]).done()
            assert await asyncio.to_thread(copied.wait, 10)  # the first pass has copied
            assert docs.append(room, "demo", [typist.type("a")]).done()  # first pass: inline
            gate.release()
            await asyncio.wait_for(first, 10)
            last = docs_checkpoint(docs)
            assert last is not None and last is not first  # the second pass started at once
            during = docs.append(room, "demo", [typist.type("b")])
            assert not during.done()  # queued behind the second pass
            gate.release()
            await asyncio.wait_for(last, 10)
            await asyncio.wait_for(during, 10)
            assert docs_checkpoint(docs) is None
            assert docs.append(room, "demo", [typist.type("c")]).done()  # inline again
            sizes.append(await asyncio.to_thread(os.path.getsize, wal))
        text = text_of(await docs.load(room, "demo"))
        assert text.count("a") == text.count("b") == text.count("c") == 6
    finally:
        gate.release(2)
        await docs.close()
    # Each round writes its frames again from the WAL's start: the file stops growing (a
    # round appends about 40 frames; a B-tree split may add a frame or two to one round).
    frame = 24 + 4096
    assert max(sizes) - sizes[0] <= 4 * frame, sizes


async def test_closing_the_store_during_a_checkpoint_finishes_both_passes(
    store: Store, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    room, docs, typist = await checkpointing_every_10(store, monkeypatch)
    for i in range(10):
        docs.append(room, "demo", [typist.type(str(i))])
    assert docs_checkpoint(docs) is not None
    checkpoints = store.checkpoints
    assert checkpoints is not None
    with caplog.at_level(logging.WARNING, logger="classroom.store"):
        await docs.close()
        await store.close()  # while the first pass runs
    assert checkpoints.running is None and not checkpoints.last_pass
    assert not checkpoints.start()  # a closed store starts none
    assert "checkpoint failed" not in caplog.text
    assert text_of(stored_texts(path_of(store))) == "0123456789"


async def test_a_database_not_in_wal_mode_commits_on_the_thread_only(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    room = await a_room(store)
    await store.close()
    conn = sqlite3.connect(path_of(store))
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.close()
    plain = Store(f"sqlite:///{path_of(store)}")
    docs = DocStore(plain)
    with caplog.at_level(logging.WARNING, logger="classroom.docs"):
        await docs.start()
    assert "not in WAL mode" in caplog.text
    try:
        stored = docs.append(room, "demo", [Typist().type("z")])
        assert not stored.done()  # a commit that syncs the file is not for the loop
        await asyncio.wait_for(stored, 10)
        assert text_of(await docs.load(room, "demo")) == "z"
    finally:
        await docs.close()
        await plain.close()


async def test_a_commit_queued_for_the_writer_does_not_wait_for_a_checkpoint_pass(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first pass syncs the files, which can take long: it has a thread of its own, so
    an update queued for the writer's thread meanwhile (here behind a write of this process)
    is committed and sent without waiting for it."""
    release = threading.Event()
    real_checkpoint = sqlite_checkpoints.checkpoint

    def slow_checkpoint(path: str, busy_timeout_ms: int) -> None:
        release.wait(30)  # a first pass stuck in its sync
        real_checkpoint(path, busy_timeout_ms)

    monkeypatch.setattr(sqlite_checkpoints, "checkpoint", slow_checkpoint)
    room, docs, typist = await checkpointing_every_10(store, monkeypatch)
    lock = store.write_lock
    assert lock is not None
    try:
        for i in range(10):
            assert docs.append(room, "demo", [typist.type(str(i))]).done()
        first = docs_checkpoint(docs)
        assert first is not None
        await lock.acquire()
        queued = docs.append(room, "demo", [typist.type("q")])
        assert not queued.done()
        lock.release()
        await asyncio.wait_for(queued, 10)
        assert not first.done()  # committed while the first pass still runs
        assert text_of(stored_texts(path_of(store))) == "0123456789q"
    finally:
        release.set()
        await docs.close()


async def test_a_compaction_writes_in_one_hop_to_the_writers_thread(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """compaction.py: the whole write is one call on the writer's thread, so this process's
    write lock is held for its statements only, not for a round trip through the loop each."""
    threads: list[str] = []
    real_fold = store_module.fold

    def watched_fold(*args: Any, **kwargs: Any) -> bool:
        threads.append(threading.current_thread().name)
        return real_fold(*args, **kwargs)

    monkeypatch.setattr(store_module, "fold", watched_fold)
    room = await a_room(store)
    docs = DocStore(store, compact_after=10_000)
    await docs.start()
    typist = Typist()
    try:
        for char in "abc":
            await docs.append(room, "demo", [typist.type(char)])
        assert await docs.compact(room, "demo") == 3
        assert len(threads) == 1 and threads[0].startswith("docstore-writer")
        assert text_of(await docs.load(room, "demo")) == "abc"
    finally:
        await docs.close()


def snapshots_in(path: str) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT count(*) FROM doc_snapshots").fetchone()[0])
    finally:
        conn.close()


async def typed_past_autocheckpoint(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> tuple[int, DocStore]:
    """A room and a started DocStore whose document ``demo`` holds 400 updates of "x",
    committed inline with no checkpoint since: past the 1,000 WAL frames (about three each)
    from which SQLite's own checkpoint would start in a commit that allows it."""
    monkeypatch.setattr(sqlite_checkpoints, "CHECKPOINT_EVERY", 100_000)
    room = await a_room(store)
    docs = DocStore(store, compact_after=100_000)
    await docs.start()
    typist = Typist()
    for _ in range(400):
        assert docs.append(room, "demo", [typist.type("x")]).done()
    return room, docs


async def test_a_commit_on_the_writers_thread_never_checkpoints_under_the_write_lock(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A commit on the writer's thread (a compaction here; updates queued behind a write
    too) holds this process's write lock. Had SQLite started a checkpoint in it (its
    ``wal_autocheckpoint``, from 1,000 WAL frames on), that commit would copy and sync the
    files while every update typed meanwhile waited (up to 57 ms, measured). It
    leaves the checkpoint to the checkpoints' thread (rule 2)."""
    room, docs = await typed_past_autocheckpoint(store, monkeypatch)
    try:
        assert await docs.compact(room, "demo") == 400
        assert text_of(await docs.load(room, "demo")) == "x" * 400
        # The database file alone, without its WAL, has not had the snapshot copied in.
        copy = tmp_path / "copy.db"
        shutil.copyfile(path_of(store), copy)
        assert snapshots_in(str(copy)) == 0
    finally:
        await docs.close()
    assert snapshots_in(path_of(store)) == 1


async def test_commits_on_the_writers_thread_count_towards_the_next_checkpoint(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    room, docs, typist = await checkpointing_every_10(store, monkeypatch)
    lock = store.write_lock
    assert lock is not None
    try:
        for i in range(7):
            assert docs.append(room, "demo", [typist.type(str(i))]).done()
        # A write of this process (the eighth commit): the next update queues for the thread.
        await lock.acquire()
        queued = docs.append(room, "demo", [typist.type("q")])
        lock.release()
        await asyncio.wait_for(queued, 10)
        assert docs_checkpoint(docs) is None  # nine commits
        assert await docs.compact(room, "demo") == 8  # the tenth commit, on the writer's thread
        assert docs_checkpoint(docs) is not None
        while (checkpoint := docs_checkpoint(docs)) is not None:
            await asyncio.wait_for(checkpoint, 10)
        copy = tmp_path / "copy.db"  # the file alone now holds the compaction's snapshot
        shutil.copyfile(path_of(store), copy)
        assert snapshots_in(str(copy)) == 1
    finally:
        await docs.close()
