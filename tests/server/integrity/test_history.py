"""Typing history through compaction: authors and inserted sizes stored with each update,
folded updates kept for replay, the checkpoint of a document compacted before history was
kept, and pruning after the retention (the clock is the test's)."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

import pytest
from sqlalchemy import insert, update
from sqlmodel import func, select

from rooms.integrity.replay import replay, text_key
from server.documents.store import DocStore
from server.integrity import history as history_module
from server.integrity.history import EMPTY_UPDATE, HistoryStore, forget_history
from server.integrity.pastes import paste_events
from server.models import (
    DocHistoryCheckpoint,
    DocHistoryPruneFailure,
    DocHistoryUpdate,
    DocUpdate,
    User,
)
from server.models.clock import as_utc, utcnow
from server.store import Store
from tests.server.documents.test_store import Typist, a_room, text_of
from tests.support.rows import classroom_with_room


async def rows(store: Store, model: type[DocUpdate] | type[DocHistoryUpdate]) -> int:
    async with store.session() as session:
        return int((await session.exec(select(func.count()).select_from(model))).one())


async def test_compaction_keeps_a_replayable_history_with_authors(store: Store) -> None:
    room = await a_room(store)
    docs = DocStore(store, compact_after=10_000, history_days=30)
    await docs.start()
    typist = Typist()
    for char in "abc":
        await docs.append(room, "students/7/main.py", [typist.type(char)], author=7, inserted=1)
    await docs.append(room, "students/7/main.py", [typist.type("X" * 50)], author=7, inserted=50)
    assert await docs.compact(room, "students/7/main.py") == 4
    await docs.append(room, "students/7/main.py", [typist.type("!")], author=1, inserted=1)
    assert await rows(store, DocUpdate) == 1
    assert await rows(store, DocHistoryUpdate) == 4

    history = await HistoryStore(store, retention_days=30).read(room, "students/7/main.py")
    assert history.checkpoint == b"\x00\x00"  # history started with the document
    assert [(u.author_id, u.inserted) for u in history.updates] == [
        (7, 1),
        (7, 1),
        (7, 1),
        (7, 50),
        (1, 1),
    ]
    start, changes = replay(history.checkpoint, [u.data for u in history.updates])
    assert start == ""
    assert [c.inserted_text for c in changes if c is not None] == ["a", "b", "c", "X" * 50, "!"]
    # The live document is unchanged by keeping history.
    assert text_of(await docs.load(room, "students/7/main.py")) == "abc" + "X" * 50 + "!"
    await docs.close()


async def test_a_compaction_copies_and_deletes_its_own_documents_rows_only(store: Store) -> None:
    # Three documents typed in turn: their ids interleave in one table, and the other two
    # have rows on both sides of the compacted one's last id (on SQLite the fold names its
    # rows as a range, server/documents/compaction.py).
    room = await a_room(store)
    other_room = (await classroom_with_room(store, User(name="Bo"), join_code="GHIJKL")).room_id
    docs = DocStore(store, compact_after=10_000, history_days=30)
    await docs.start()
    keys = [(room, "a.py"), (room, "b.py"), (other_room, "a.py")]
    typists = {key: Typist() for key in keys}
    for char in "abcdef":
        for (room_id, doc), typist in typists.items():
            await docs.append(room_id, doc, [typist.type(char)], author=room_id, inserted=1)
    assert await docs.compact(room, "a.py") == 6
    async with store.session() as session:
        kept = (await session.exec(select(DocHistoryUpdate.room_id, DocHistoryUpdate.doc))).all()
        left = (await session.exec(select(DocUpdate.room_id, DocUpdate.doc))).all()
    assert sorted(kept) == [(room, "a.py")] * 6
    assert sorted(left) == sorted([(room, "b.py")] * 6 + [(other_room, "a.py")] * 6)
    for key in keys:
        assert text_of(await docs.load(*key)) == "abcdef"
    await docs.append(room, "a.py", [typists[keys[0]].type("g")], author=room, inserted=1)
    assert await docs.compact(room, "a.py") == 1
    history = await HistoryStore(store, retention_days=30).read(room, "a.py")
    assert [u.inserted for u in history.updates] == [1] * 7
    start, changes = replay(history.checkpoint, [u.data for u in history.updates])
    assert start + "".join(c.inserted_text for c in changes if c is not None) == "abcdefg"
    await docs.close()


async def test_without_retention_compaction_keeps_nothing(store: Store) -> None:
    room = await a_room(store)
    docs = DocStore(store, compact_after=10_000, history_days=0)
    await docs.start()
    typist = Typist()
    await docs.append(room, "demo", [typist.type("a")], author=1)
    await docs.compact(room, "demo")
    assert await rows(store, DocHistoryUpdate) == 0
    await docs.close()


async def test_a_document_compacted_before_history_starts_from_its_snapshot(store: Store) -> None:
    room = await a_room(store)
    typist = Typist()
    before = DocStore(store, compact_after=10_000, history_days=0)
    await before.start()
    await before.append(room, "demo", [typist.type("old ")])
    await before.compact(room, "demo")
    await before.close()

    docs = DocStore(store, compact_after=10_000, history_days=10)
    await docs.start()
    await docs.append(room, "demo", [typist.type("new")], author=3, inserted=3)
    await docs.compact(room, "demo")
    await docs.close()
    history = await HistoryStore(store, retention_days=10).read(room, "demo")
    start, changes = replay(history.checkpoint, [u.data for u in history.updates])
    assert start == "old "
    assert [c.inserted_text for c in changes if c] == ["new"]


async def test_pruning_folds_old_history_into_the_checkpoint(store: Store) -> None:
    room = await a_room(store)
    docs = DocStore(store, compact_after=10_000, history_days=1)
    await docs.start()
    typist = Typist()
    for char in "hello":
        await docs.append(room, "demo", [typist.type(char)], author=2, inserted=1)
    await docs.compact(room, "demo")
    await docs.close()
    history = HistoryStore(store, retention_days=1)
    assert await history.prune(utcnow()) == 0  # nothing is a day old yet
    assert await history.prune(utcnow() + timedelta(days=2)) == 5
    assert await rows(store, DocHistoryUpdate) == 0
    kept = await history.read(room, "demo")
    assert kept.updates == [] and kept.checkpoint is not None
    start, _ = replay(kept.checkpoint, [])
    assert start == "hello"
    async with store.session() as session:
        checkpoint = (await session.exec(select(DocHistoryCheckpoint))).one()
        assert checkpoint.upto_id > 0


async def test_pruning_folds_a_terms_history_in_bounded_transactions(store: Store) -> None:
    # 66,000 updates past the retention: named in one DELETE they were more parameters than
    # PostgreSQL takes in a statement, and the pruning failed every hour.
    room = await a_room(store)
    typist = Typist()
    old = utcnow() - timedelta(days=200)
    typed = [typist.type(char) for char in "term"]
    data = typed + [EMPTY_UPDATE] * (66_000 - len(typed))
    async with store.engine.begin() as conn:
        await conn.execute(
            insert(DocHistoryUpdate.__table__),  # type: ignore[attr-defined]
            [
                {"id": i + 1, "room_id": room, "doc": "demo", "data": d, "created_at": old}
                for i, d in enumerate(data)
            ],
        )
    history = HistoryStore(store, retention_days=120)
    assert await history.prune() == 66_000
    assert await rows(store, DocHistoryUpdate) == 0
    kept = await history.read(room, "demo")
    assert kept.updates == [] and kept.checkpoint is not None
    assert replay(kept.checkpoint, [])[0] == "term"
    async with store.session() as session:
        checkpoint = (await session.exec(select(DocHistoryCheckpoint))).one()
    assert checkpoint.upto_id == 66_000
    assert as_utc(checkpoint.at) == as_utc(old)


async def test_a_documents_history_is_bounded_by_its_newest_updates(store: Store) -> None:
    """One tab sending one-character edits as fast as the socket takes them stored 800 history
    rows a second, each kept for the whole retention: past ``max_updates`` the oldest are
    folded, however recent, and the replay still ends on the same text."""
    room = await a_room(store)
    typist, quiet = Typist(), Typist()
    text = "".join(chr(ord("a") + i % 26) for i in range(1_234))
    now = utcnow()
    async with store.engine.begin() as conn:
        await conn.execute(
            insert(DocHistoryUpdate.__table__),  # type: ignore[attr-defined]
            [
                {
                    "id": i + 1,
                    "room_id": room,
                    "doc": "spam",
                    "data": typist.type(c),
                    "created_at": now,
                }
                for i, c in enumerate(text)
            ]
            + [
                {
                    "id": 2_000 + i,
                    "room_id": room,
                    "doc": "calm",
                    "data": quiet.type(c),
                    "created_at": now,
                }
                for i, c in enumerate("calm")
            ],
        )
    history = HistoryStore(store, retention_days=120, max_updates=1_000)
    assert await history.prune(now) == 234
    spam = await history.read(room, "spam")
    assert [u.id for u in spam.updates] == list(range(235, 1_235))
    assert spam.checkpoint is not None
    assert replay(spam.checkpoint, [])[0] == text[:234]
    assert text_of([spam.checkpoint, *[u.data for u in spam.updates]]) == text
    assert len((await history.read(room, "calm")).updates) == 4  # under the bound: untouched
    assert await history.prune(now) == 0


async def old_history(
    store: Store, room: int, docs: dict[str, bytes], *, first_id: int = 1
) -> None:
    """One kept update per document, 200 days old (ids from ``first_id``, in the order given)."""
    old = utcnow() - timedelta(days=200)
    async with store.engine.begin() as conn:
        await conn.execute(
            insert(DocHistoryUpdate.__table__),  # type: ignore[attr-defined]
            [
                {"id": n, "room_id": room, "doc": doc, "data": data, "created_at": old}
                for n, (doc, data) in enumerate(docs.items(), first_id)
            ],
        )


async def test_a_document_that_cannot_be_pruned_does_not_stop_the_others(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    room = await a_room(store)
    await old_history(store, room, {"broken": b"\xff", "fine": Typist().type("ok")})
    history = HistoryStore(store, retention_days=120)
    with caplog.at_level(logging.ERROR, logger="classroom.integrity"):
        assert await history.prune() == 1
    assert f"pruning the history of room {room} doc broken failed" in caplog.text
    assert replay((await history.read(room, "fine")).checkpoint, [])[0] == "ok"
    assert [u.id for u in (await history.read(room, "broken")).updates] == [1]


async def test_without_kept_history_the_timeline_starts_at_the_snapshot(store: Store) -> None:
    room = await a_room(store)
    docs = DocStore(store, compact_after=10_000, history_days=0)
    await docs.start()
    typist = Typist()
    await docs.append(room, "demo", [typist.type("folded ")], author=1, inserted=7)
    await docs.compact(room, "demo")
    await docs.append(room, "demo", [typist.type("later")], author=1, inserted=5)
    await docs.close()
    history = await HistoryStore(store, retention_days=0).read(room, "demo")
    start, changes = replay(history.checkpoint, [u.data for u in history.updates])
    assert start == "folded "
    assert [c.inserted_text for c in changes if c] == ["later"]
    assert history.checkpoint_at is not None


async def test_turning_history_off_drops_what_was_kept(store: Store) -> None:
    room = await a_room(store)
    typist = Typist()
    kept = DocStore(store, compact_after=10_000, history_days=5)
    await kept.start()
    await kept.append(room, "demo", [typist.type("one ")], author=1, inserted=4)
    await kept.compact(room, "demo")
    await kept.close()
    assert await rows(store, DocHistoryUpdate) == 1
    off = DocStore(store, compact_after=10_000, history_days=0)
    await off.start()
    await off.append(room, "demo", [typist.type("two ")], author=1, inserted=4)
    await off.compact(room, "demo")
    await off.append(room, "demo", [typist.type("three")], author=1, inserted=5)
    await off.close()
    assert await rows(store, DocHistoryUpdate) == 0
    history = await HistoryStore(store, retention_days=0).read(room, "demo")
    start, changes = replay(history.checkpoint, [u.data for u in history.updates])
    assert start == "one two "  # from the snapshot: no gap
    assert [c.inserted_text for c in changes if c] == ["three"]


async def test_paste_events_skip_known_text_and_small_updates(store: Store) -> None:
    room = await a_room(store)
    docs = DocStore(store, compact_after=10_000, history_days=10)
    await docs.start()
    typist = Typist()
    starter, pasted = "s" * 300, "p" * 250
    await docs.append(
        room,
        "students/4/a.py",
        [typist.type(starter)],
        author=4,
        inserted=300,
        inserted_key=text_key(starter),
    )
    await docs.compact(room, "students/4/a.py")  # one paste in the history, one not folded
    await docs.append(
        room,
        "students/4/a.py",
        [typist.type(pasted)],
        author=4,
        inserted=250,
        inserted_key=text_key(pasted),
    )
    await docs.append(room, "students/4/a.py", [typist.type("x")], author=4, inserted=1)
    await docs.close()
    found = await paste_events(store, [room], [4], 200)
    assert [(e.inserted, e.author_id) for e in found] == [(300, 4), (250, 4)]
    only = await paste_events(store, [room], [4], 200, given={text_key(starter)})
    assert [e.inserted for e in only] == [250]
    assert await paste_events(store, [room], [4], 0) == []  # 0 turns the signal off
    assert await paste_events(store, [room], [5], 200) == []


HOUR = timedelta(seconds=history_module.PRUNE_EVERY_SECONDS)  # a round


async def failed_in_round(
    history: HistoryStore, now: datetime, caplog: pytest.LogCaptureFixture
) -> list[str]:
    """Prune as a round at ``now``; the documents whose pruning failed, from the log."""
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="classroom.integrity"):
        await history.prune(now)
    return [r.getMessage().split(" doc ")[1].split()[0] for r in caplog.records]


async def failing(store: Store) -> dict[str, tuple[int, datetime, str]]:
    """The stored pruning failures: doc -> (failures in a row, retry time, error)."""
    async with store.session() as session:
        found = (await session.exec(select(DocHistoryPruneFailure))).all()
    return {row.doc: (row.failures, as_utc(row.retry_at), row.error) for row in found}


async def test_a_document_that_keeps_failing_waits_longer_each_time_until_mended(
    store: Store, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """history.py: each failure in a row doubles the wait before the next try (1, 2, 4 rounds,
    here at most 4); a mended document is pruned at its next try and its record dropped."""
    monkeypatch.setattr(history_module, "PRUNE_BACKOFF_MAX_ROUNDS", 4)
    room = await a_room(store)
    await old_history(store, room, {"broken": b"\xff"})
    history = HistoryStore(store, retention_days=120)
    start = utcnow()
    tried: list[list[str]] = []
    for n in range(16):  # rounds 1 to 16, an hour apart
        tried.append(await failed_in_round(history, start + n * HOUR, caplog))
        if n == 0:
            retry = (start + HOUR).isoformat(timespec="seconds")
            assert f"failed (1 in a row; not tried again before {retry})" in caplog.text
    assert [n for n, failed in enumerate(tried, 1) if failed] == [1, 2, 4, 8, 12, 16]
    assert await failing(store) == {
        "broken": (6, start + 19 * HOUR, "ValueError: Cannot merge updates")
    }
    async with store.engine.begin() as conn:
        await conn.execute(
            update(DocHistoryUpdate.__table__)  # type: ignore[attr-defined]
            .where(DocHistoryUpdate.__table__.c.doc == "broken")  # type: ignore[attr-defined]
            .values(data=Typist().type("mended"))
        )
    assert await history.prune(start + 19 * HOUR - timedelta(seconds=1)) == 0  # still waiting
    assert (await history.read(room, "broken")).checkpoint is None
    assert await history.prune(start + 19 * HOUR) == 1
    assert "mended" in replay((await history.read(room, "broken")).checkpoint, [])[0]
    assert await failing(store) == {}


async def test_documents_that_wait_leave_the_rounds_places_to_the_others(
    store: Store, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A round of one place: broken documents waiting for their retry time are left out of
    the round's candidates, so they cannot take that place from a document that can be
    pruned (rounds minutes apart: several processes' rounds, or a restarted one's)."""
    monkeypatch.setattr(history_module, "PRUNE_DOCS_PER_ROUND", 1)
    room = await a_room(store)
    await old_history(store, room, {"a-broken": b"\xff", "b-broken": b"\xff"})
    history = HistoryStore(store, retention_days=120)
    start = utcnow()
    first = await failed_in_round(history, start, caplog)
    second = await failed_in_round(history, start + timedelta(minutes=10), caplog)
    assert sorted(first + second) == ["a-broken", "b-broken"]
    await old_history(store, room, {"c-fine": Typist().type("ok")}, first_id=3)
    assert await history.prune(start + timedelta(minutes=20)) == 1
    assert replay((await history.read(room, "c-fine")).checkpoint, [])[0] == "ok"
    assert sorted(await failing(store)) == ["a-broken", "b-broken"]


async def test_the_back_off_outlives_a_restart_and_holds_for_every_process(
    store: Store, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The failure record is in the database: a second server process (its own Store and
    pruner) and a restarted pruner wait for the same retry time and count on from it."""
    room = await a_room(store)
    await old_history(store, room, {"broken": b"\xff"})
    start = utcnow()
    first = HistoryStore(store, retention_days=120)
    assert await failed_in_round(first, start, caplog) == ["broken"]
    other_store = Store(database_url)
    try:
        other = HistoryStore(other_store, retention_days=120)
        assert await failed_in_round(other, start + HOUR / 2, caplog) == []
        assert (await failing(store))["broken"][:2] == (1, start + HOUR)
        assert await failed_in_round(other, start + HOUR, caplog) == ["broken"]
        assert "failed (2 in a row;" in caplog.text
        assert (await failing(store))["broken"][:2] == (2, start + 3 * HOUR)
    finally:
        await other_store.close()
    restarted = HistoryStore(store, retention_days=120)
    assert await failed_in_round(restarted, start + 2 * HOUR, caplog) == []
    assert await failed_in_round(restarted, start + 3 * HOUR, caplog) == ["broken"]
    assert (await failing(store))["broken"][:2] == (3, start + 7 * HOUR)


async def test_a_failing_document_without_history_left_to_prune_is_forgotten(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """Turning history off drops a failing document's history: its record goes at the next
    round, though its retry time has not come."""
    room = await a_room(store)
    await old_history(store, room, {"broken": b"\xff"})
    history = HistoryStore(store, retention_days=120)
    start = utcnow()
    assert await failed_in_round(history, start, caplog) == ["broken"]
    assert list(await failing(store)) == ["broken"]
    async with store.engine.begin() as conn:
        await conn.run_sync(lambda sync: forget_history(sync, room_id=room, doc="broken"))
    assert await history.prune(start + timedelta(minutes=1)) == 0
    assert await failing(store) == {}


async def test_two_processes_failing_on_one_document_at_once_both_count(
    store: Store, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Two pruners (their own Store each, as two server processes) choose the same broken
    document in the same round: the second failure updates the row the first inserted."""
    room = await a_room(store)
    await old_history(store, room, {"broken": b"\xff"})
    both_chose = asyncio.Barrier(2)

    class AtOnce(HistoryStore):
        async def _prune_doc(
            self, room_id: int, doc: str, cutoff: datetime | None, limit: int
        ) -> int:
            await both_chose.wait()  # neither has failed (and recorded it) yet
            return await super()._prune_doc(room_id, doc, cutoff, limit)

    start = utcnow()
    other_store = Store(database_url)
    try:
        pruners = [AtOnce(s, retention_days=120) for s in (store, other_store)]
        with caplog.at_level(logging.ERROR, logger="classroom.integrity"):
            await asyncio.gather(*(pruner.prune(start) for pruner in pruners))
    finally:
        await other_store.close()
    assert "failed (1 in a row;" in caplog.text and "failed (2 in a row;" in caplog.text
    assert (await failing(store))["broken"][:2] == (2, start + 2 * HOUR)
