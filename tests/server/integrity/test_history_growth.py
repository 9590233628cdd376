"""A document's history held to its bound as it grows (server/integrity/growth.py), not only at
the hourly round: before, a script typing as fast as the socket takes them could add 3.6
million history rows an hour to one document until the round came."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert
from sqlmodel import func, select
from starlette.applications import Starlette

from server.documents.store import DocStore
from server.integrity.growth import HistoryGrowth, step
from server.integrity.history import HistoryStore
from server.models import DocHistoryPruneFailure, DocHistoryUpdate
from server.models.clock import utcnow
from server.store import Store
from tests.conftest import state_of
from tests.server.documents.test_store import Typist, a_room, text_of

DATABASES = ("sqlite", "postgres")
BOUND = 1_000


async def kept(store: Store) -> int:
    async with store.session() as session:
        return int((await session.exec(select(func.count()).select_from(DocHistoryUpdate))).one())


async def typed(docs: DocStore, room: int, doc: str, count: int, typist: Typist) -> str:
    """``count`` one-character updates, compacted 500 at a time as the store does."""
    text = ""
    for i in range(count):
        char = chr(ord("a") + i % 26)
        text += char
        await docs.append(room, doc, [typist.type(char)], author=7, inserted=1)
        if (i + 1) % 500 == 0:
            assert await docs.compact(room, doc) == 500
    return text


async def test_a_fast_typed_document_keeps_its_bound_between_rounds(store: Store) -> None:
    room = await a_room(store)
    docs = DocStore(store, compact_after=100_000, history_days=120)  # compacted by hand
    await docs.start()
    history = HistoryStore(store, retention_days=120, max_updates=BOUND)
    growth = HistoryGrowth(history)
    docs.kept_history.append(growth.kept)
    try:
        typist = Typist()
        text = await typed(docs, room, "spam", 5_000, typist)
        await growth.settled()
        # Checked every step (500 here): never more than the bound and a step, with no round.
        assert BOUND <= await kept(store) <= BOUND + step(BOUND)
        replayed = await history.read(room, "spam")
        assert replayed.checkpoint is not None
        assert text_of([replayed.checkpoint, *[u.data for u in replayed.updates]]) == text
        # A quiet document is not checked at all; one waiting after a failed fold is left to
        # the hourly round.
        calm = Typist()
        await typed(docs, room, "calm", 400, calm)
        async with store.engine.begin() as conn:
            await conn.execute(
                insert(DocHistoryPruneFailure.__table__),  # type: ignore[attr-defined]
                [
                    {
                        "room_id": room,
                        "doc": "stuck",
                        "failures": 1,
                        "retry_at": utcnow() + timedelta(hours=1),
                        "error": "ValueError: a row that does not parse",
                    }
                ],
            )
        before = await kept(store)
        await typed(docs, room, "stuck", 1_500, Typist())
        await growth.settled()
        assert await kept(store) == before + 1_500
    finally:
        await growth.close()
        await docs.close()


async def test_the_server_checks_the_bound_after_each_compaction(app: Starlette) -> None:
    state = state_of(app)
    assert state.docs.docstore.kept_history == [state.integrity.growth.kept]
    assert state.integrity.growth.history is state.integrity.history
