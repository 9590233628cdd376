"""The document writer's PostgreSQL connection dropped between two batches (a database
restart, a failover, an idle timeout): the next batch is stored on a new connection."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import text

from server.documents.store import DocStore
from server.store import Store
from tests.server.documents.test_store import Typist, a_room, text_of

DATABASES = ("postgres",)


async def test_a_dropped_connection_costs_a_retry_not_an_update(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    room = await a_room(store)
    docs = DocStore(store, compact_after=10_000, batch_ms=0)
    await docs.start()
    try:
        typist = Typist()
        await docs.append(room, "demo", [typist.type("a")])
        # Every other connection to this database goes, the writer's among them.
        async with store.engine.connect() as conn:
            dropped = (
                await conn.execute(
                    text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                )
            ).scalar_one()
        assert dropped >= 1
        with caplog.at_level(logging.WARNING, logger="classroom.docs"):
            await docs.append(room, "demo", [typist.type("b")])
        assert any("retrying" in r.getMessage() for r in caplog.records)
        assert text_of(await docs.load(room, "demo")) == "ab"
    finally:
        await docs.close()
