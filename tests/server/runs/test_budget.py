"""A user's runs a minute, and the runs a room keeps of them (server/security/fair_runs.py
rules 4 and 5): the real app, the local sandbox, SQLite and PostgreSQL.

Before: one student scripting runs, three at a time, started 62 a second (each printing
140 KB, 4 MB a second of output on the staff's sockets) and grew the database by 5.6 MB a
second with no end."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlmodel import col, select

from server.models.runs import Run
from server.settings import Settings
from server.store import Store
from tests.conftest import Lesson, LiveServer, make_settings
from tests.support.events import EventClient

PER_MINUTE = 12
KEPT = 10

pytestmark = pytest.mark.bwrap


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(
        tmp_path,
        database_url,
        runs_per_minute=str(PER_MINUTE),
        runs_kept_per_user=str(KEPT),
    )


PROGRAM = {"language": "python", "files": {"main.py": "print('hi')\n"}}


async def rows_of(server: LiveServer, user_id: int) -> list[str]:
    store = Store(server.settings.database_url)
    try:
        async with store.session() as session:
            found = await session.exec(
                select(Run.id).where(Run.user_id == user_id).order_by(col(Run.created_at))
            )
            return list(found.all())
    finally:
        await store.close()


async def ran(client: EventClient) -> str:
    """Start a run over the room socket; its id once it has finished."""
    await client.send({"type": "run.start", **PROGRAM})
    started = await client.expect("run.started")
    await client.expect("run.finished", run_id=started["run_id"])
    run_id: str = started["run_id"]
    return run_id


async def test_a_users_runs_a_minute_are_bounded_and_the_room_keeps_the_newest(
    server: LiveServer, live_lesson: Lesson
) -> None:
    lesson = live_lesson
    alice = await EventClient.open(server.ws_url, lesson.room_id, lesson.alice.token)
    bob = await EventClient.open(server.ws_url, lesson.room_id, lesson.bob.token)
    try:
        await alice.expect("room.snapshot")
        await bob.expect("room.snapshot")
        started = [await ran(alice) for _ in range(PER_MINUTE)]
        # One more this minute is refused, over the socket and over HTTP (with when to retry).
        await alice.send({"type": "run.start", **PROGRAM})
        refused = await alice.expect("error")
        assert refused["code"] == "rate_limited", refused
        assert "at most 12 a minute" in refused["message"]
        async with httpx.AsyncClient(base_url=server.url) as http:
            response = await http.post(
                f"/api/rooms/{lesson.room_id}/runs",
                json={"language": "python", "code": "print(1)"},
                headers=lesson.alice.headers,
            )
            assert response.status_code == 429, response.text
            assert response.json()["error"]["code"] == "rate_limited"
            assert 1 <= int(response.headers["retry-after"]) <= 60
            # Bob, who ran nothing, runs.
            bob_run = await ran(bob)

            # The room keeps Alice's newest runs, and Bob's.
            assert await rows_of(server, lesson.alice.id) == started[-KEPT:]
            assert await rows_of(server, lesson.bob.id) == [bob_run]
            listed = await http.get(
                f"/api/rooms/{lesson.room_id}/runs", headers=lesson.alice.headers
            )
            assert {r["id"] for r in listed.json()["runs"]} == set(started[-KEPT:])
            gone = await http.get(f"/api/runs/{started[0]}", headers=lesson.alice.headers)
            assert gone.status_code == 404
    finally:
        await alice.close()
        await bob.close()
