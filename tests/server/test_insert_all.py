"""store.insert_all on SQLite and PostgreSQL: every row stored, and the statement compiled once
for every call after the first, whatever the number of rows (a multi-row ``VALUES`` list
was compiled anew on every call, at more cost than the insert itself)."""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.engine.interfaces import CacheStats
from sqlmodel import select

from server.models import User, XpEvent
from server.store import Store, insert_all, migrate
from tests.support.rows import classroom_with_room


async def test_rows_are_stored_and_the_statement_is_compiled_once(database_url: str) -> None:
    await asyncio.to_thread(migrate, database_url)
    store = Store(database_url)
    try:
        seeded = await classroom_with_room(store, User(name="Ada"), join_code="ABC123")
        [ada] = seeded.user_ids
        seen: list[CacheStats] = []

        def record(
            _conn: Any,
            _cursor: Any,
            statement: str,
            _params: Any,
            context: DefaultExecutionContext,
            _many: bool,
        ) -> None:
            if statement.lstrip().upper().startswith("INSERT INTO XP_EVENTS"):
                seen.append(context.cache_hit)

        # The store's session thread makes its engine on first use: listen on every engine.
        event.listen(Engine, "after_cursor_execute", record)
        try:
            for count in (2, 3, 5):
                rows = [
                    XpEvent(
                        user_id=ada,
                        classroom_id=seeded.classroom_id,
                        room_id=seeded.room_id,
                        amount=n + 1,
                        reason="quiz",
                        detail=f"round of {count}",
                    )
                    for n in range(count)
                ]
                await store.threaded.write(partial(insert_all, rows=rows))
                await store.threaded.write(partial(insert_all, rows=[]))  # no statement
        finally:
            event.remove(Engine, "after_cursor_execute", record)
        async with store.session() as session:
            stored = (await session.exec(select(XpEvent.detail, XpEvent.amount))).all()
        assert sorted(stored) == sorted(
            (f"round of {count}", n + 1) for count in (2, 3, 5) for n in range(count)
        )
        assert len(seen) == 3  # one driver call per insert_all
        assert seen[1:] == [CacheStats.CACHE_HIT, CacheStats.CACHE_HIT]
    finally:
        await store.close()
