"""DocStore on SQLite and PostgreSQL: appends, group commits, compaction, loads."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pycrdt
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlmodel import func, select

from server.documents import store as store_module
from server.documents.compaction import fold
from server.documents.store import DocStore
from server.models import DocSnapshot, DocUpdate, User
from server.store import Store
from tests.support.rows import classroom_with_room


async def a_room(store: Store) -> int:
    return (await classroom_with_room(store, User(name="Ada"))).room_id


class Typist:
    def __init__(self) -> None:
        self.doc: pycrdt.Doc = pycrdt.Doc()
        self.text = self.doc.get("text", type=pycrdt.Text)
        self.updates: list[bytes] = []
        self.doc.observe(lambda event: self.updates.append(event.update))

    def type(self, chars: str) -> bytes:
        self.text += chars
        return self.updates[-1]


def text_of(updates: list[bytes]) -> str:
    doc: pycrdt.Doc = pycrdt.Doc()
    for update in updates:
        doc.apply_update(update)
    return str(doc.get("text", type=pycrdt.Text))


async def count(store: Store, model: type[DocUpdate] | type[DocSnapshot]) -> int:
    async with store.session() as session:
        return int((await session.exec(select(func.count()).select_from(model))).one())


async def test_appended_updates_load_back_in_order(store: Store) -> None:
    room = await a_room(store)
    docs = DocStore(store, compact_after=10_000, batch_ms=1)
    await docs.start()
    typist = Typist()
    # Queued together: they land in one group commit, each future resolves after it.
    futures = [docs.append(room, "demo", [typist.type(c)]) for c in "hello"]
    await asyncio.gather(*futures)
    assert all(f.done() for f in futures)
    assert text_of(await docs.load(room, "demo")) == "hello"
    assert await docs.load(room, "other") == []
    await docs.close()


async def test_repeated_compactions_keep_every_update(store: Store) -> None:
    room = await a_room(store)
    docs = DocStore(store, compact_after=7, batch_ms=0)
    await docs.start()
    typist = Typist()
    for i in range(50):
        await docs.append(room, "students/1/a.py", [typist.type(str(i % 10))])
    await docs.close()
    expected = "".join(str(i % 10) for i in range(50))
    assert text_of(await docs.load(room, "students/1/a.py")) == expected
    assert await count(store, DocSnapshot) == 1
    assert await count(store, DocUpdate) < 7
    # And after the last folded update is deleted, new ids still come after the snapshot.
    assert await docs.compact(room, "students/1/a.py") >= 0
    docs2 = DocStore(store, compact_after=10_000, batch_ms=0)
    await docs2.start()
    await docs2.append(room, "students/1/a.py", [typist.type("!")])
    await docs2.close()
    assert text_of(await docs2.load(room, "students/1/a.py")) == expected + "!"


async def test_a_snapshot_holds_the_typed_characters_merged(store: Store) -> None:
    """1,500 characters typed one at a time and folded 500 at a time make a snapshot of one
    item (rooms/snapshots.py): joined as they came they made 1,500 items, which yrs merged
    one pair at a time whenever the document was loaded."""
    room = await a_room(store)
    docs = DocStore(store, compact_after=10_000, batch_ms=0)
    await docs.start()
    typist = Typist()
    for i in range(1_500):
        await docs.append(room, "students/1/a.py", [typist.type("ab"[i % 2])])
        if i % 500 == 499:
            assert await docs.compact(room, "students/1/a.py") == 500
    await docs.close()
    async with store.session() as session:
        snapshot = (await session.exec(select(DocSnapshot.data))).one()
    assert len(snapshot) < 1_600  # the characters and a few bytes (19,381 before)
    assert text_of([snapshot]) == "ab" * 750


async def test_changed_at_lists_documents_of_the_room(store: Store) -> None:
    room = await a_room(store)
    docs = DocStore(store, compact_after=2, batch_ms=0)
    await docs.start()
    typist = Typist()
    for c in "abc":
        await docs.append(room, "demo", [typist.type(c)])
    await docs.append(room, "pairs/g/x.py", [Typist().type("p")])
    await docs.close()
    changed = await docs.changed_at(room)
    assert set(changed) == {"demo", "pairs/g/x.py"}
    assert all(at.tzinfo is not None for at in changed.values())


class GatedCompactions(DocStore):
    """A real DocStore whose compactions wait for a gate, to act while one is running."""

    def __init__(self, store: Store) -> None:
        super().__init__(store, compact_after=3)
        self.gate = asyncio.Event()
        self.compacting = asyncio.Event()

    async def compact(self, room_id: int, doc: str) -> int:
        self.compacting.set()
        await self.gate.wait()
        return await super().compact(room_id, doc)


async def test_commits_go_on_while_a_compaction_runs(store: Store) -> None:
    room = await a_room(store)
    docs = GatedCompactions(store)
    await docs.start()
    typist = Typist()
    for c in "abc":
        await asyncio.wait_for(docs.append(room, "demo", [typist.type(c)]), 5)
    await asyncio.wait_for(docs.compacting.wait(), 5)
    # The compaction is stuck at its gate; the writer must not be.
    for c in "defgh":
        await asyncio.wait_for(docs.append(room, "demo", [typist.type(c)]), 5)
    docs.gate.set()
    await docs.close()
    assert text_of(await docs.load(room, "demo")) == "abcdefgh"
    assert await count(store, DocSnapshot) == 1


async def test_compaction_keeps_updates_appended_while_it_runs(store: Store) -> None:
    room = await a_room(store)
    docs = DocStore(store, compact_after=10_000)
    await docs.start()
    typist = Typist()
    await asyncio.gather(
        *(docs.append(room, "demo", [typist.type(str(i % 10))]) for i in range(60))
    )
    # Appends queued before, during and after the compaction's read and write.
    compaction = asyncio.create_task(docs.compact(room, "demo"))
    late = []
    for i in range(60):
        late.append(docs.append(room, "demo", [typist.type(chr(97 + i % 26))]))
        await asyncio.sleep(0)
    folded = await compaction
    await asyncio.gather(*late)
    await docs.close()
    assert folded >= 60
    expected = "".join(str(i % 10) for i in range(60)) + "".join(
        chr(97 + i % 26) for i in range(60)
    )
    assert text_of(await docs.load(room, "demo")) == expected
    assert await count(store, DocUpdate) == 120 - folded
    # A second compaction folds the rest onto the first snapshot.
    assert await docs.compact(room, "demo") == 120 - folded
    assert text_of(await docs.load(room, "demo")) == expected
    assert await count(store, DocUpdate) == 0


async def test_a_backlog_is_folded_a_bounded_batch_at_a_time(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A document loaded with many unfolded updates: each compaction merges at most
    # FOLD_AT_MOST of them, the oldest, on the event loop.
    monkeypatch.setattr(store_module, "FOLD_AT_MOST", 4)
    room = await a_room(store)
    docs = DocStore(store, compact_after=10_000)
    await docs.start()
    typist, other = Typist(), Typist()
    for c in "abcdefghij":
        await docs.append(room, "demo", [typist.type(c)])
        await docs.append(room, "other", [other.type(c)])
    assert [await docs.compact(room, "demo") for _ in range(4)] == [4, 4, 2, 0]
    assert text_of(await docs.load(room, "demo")) == "abcdefghij"
    assert text_of(await docs.load(room, "other")) == "abcdefghij"
    async with store.session() as session:
        left = (await session.exec(select(DocUpdate.doc))).all()
    assert left == ["other"] * 10
    await docs.close()


async def test_a_compaction_that_lost_the_race_changes_nothing(store: Store) -> None:
    room = await a_room(store)
    first, second = DocStore(store), DocStore(store)
    await first.start()
    typist = Typist()
    for c in "abcd":
        await first.append(room, "demo", [typist.type(c)])
    assert await first.compact(room, "demo") == 4
    await first.append(room, "demo", [typist.type("e")])
    await first.close()
    # Both read the same snapshot head; only the first to write moves it.
    results = await asyncio.gather(first.compact(room, "demo"), second.compact(room, "demo"))
    assert sorted(results) == [0, 1]
    assert text_of(await first.load(room, "demo")) == "abcde"
    assert await count(store, DocUpdate) == 0


async def test_an_update_committed_late_below_the_snapshot_is_kept(store: Store) -> None:
    # Two processes writing one document on PostgreSQL: B's transaction drew id N, A's drew
    # N+1 and committed first, a compaction folded up to N+1; then B commits N. That update is
    # in no snapshot, so loads must read it and the next compaction must fold it.
    room = await a_room(store)
    docs = DocStore(store, compact_after=10_000, batch_ms=0)
    await docs.start()
    typist = Typist()
    for chars in ("ab", "cd"):
        await docs.append(room, "demo", [typist.type(chars)])
    late = typist.type("ef")
    async with store.session() as session:
        ids = (await session.exec(select(DocUpdate.id).order_by(DocUpdate.id))).all()
    assert await docs.compact(room, "demo") == 2
    async with store.session() as session:
        # Below the snapshot's last_update_id: an id drawn earlier, committed later.
        session.add(DocUpdate(id=ids[0], room_id=room, doc="demo", data=late))
    assert text_of(await docs.load(room, "demo")) == "abcdef"
    assert await docs.compact(room, "demo") == 1
    assert await count(store, DocUpdate) == 0
    assert text_of(await docs.load(room, "demo")) == "abcdef"
    await docs.close()


async def test_on_postgresql_updates_commit_while_a_fold_waits(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A fold's history INSERT … SELECT took 10 to 14 ms on PostgreSQL; on the writer's thread
    # every batch waited behind it. Here the history table is locked, so the fold cannot end
    # until the test lets it: an update appended meanwhile must still commit.
    if store.is_sqlite:
        pytest.skip("SQLite serializes writers: its folds run on the writer's thread by design")
    room = await a_room(store)
    docs = DocStore(store, compact_after=10_000, history_days=30)
    await docs.start()
    typist = Typist()
    for c in "abc":
        await asyncio.wait_for(docs.append(room, "demo", [typist.type(c)]), 5)
    folding = threading.Event()

    def announced_fold(conn: Connection, **kwargs: Any) -> bool:
        folding.set()
        return fold(conn, **kwargs)

    monkeypatch.setattr(store_module, "fold", announced_fold)
    async with store.engine.connect() as locker:
        await locker.begin()
        await locker.execute(text("LOCK TABLE doc_history IN ACCESS EXCLUSIVE MODE"))
        compaction = asyncio.create_task(docs.compact(room, "demo"))
        assert await asyncio.to_thread(folding.wait, 5)
        await asyncio.wait_for(docs.append(room, "demo", [typist.type("d")]), 5)
        assert not compaction.done()
        await locker.rollback()
    assert await asyncio.wait_for(compaction, 5) == 3
    assert text_of(await docs.load(room, "demo")) == "abcd"
    await docs.close()


async def test_the_wait_for_each_commit_is_observed_from_the_append(store: Store) -> None:
    # Inline (SQLite) or through the writer's thread: one observation per append, and a wait
    # behind this process's write lock counts from the append, not from the commit's start.
    room = await a_room(store)
    waits: list[float] = []
    docs = DocStore(store, compact_after=10_000, commit_wait=waits.append)
    await docs.start()
    typist = Typist()
    await asyncio.wait_for(docs.append(room, "demo", [typist.type("a")]), 5)
    assert len(waits) == 1 and waits[0] >= 0
    lock = store.write_lock
    if lock is None:  # PostgreSQL: every append goes through the writer's thread
        await asyncio.wait_for(docs.append(room, "demo", [typist.type("b")]), 5)
    else:
        await lock.acquire()
        appended = time.perf_counter()
        stored = docs.append(room, "demo", [typist.type("b")])
        for _ in range(20):
            await asyncio.sleep(0)  # the writer's turn: it must find the lock taken
        assert not stored.done()
        held = time.perf_counter() - appended
        lock.release()
        await asyncio.wait_for(stored, 5)
        assert waits[-1] >= held
    assert len(waits) == 2
    await docs.close()
    assert text_of(await docs.load(room, "demo")) == "ab"
