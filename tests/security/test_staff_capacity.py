"""Self-made student accounts cannot fill a room and lock the instructor out of `demo`, and one
user cannot open unlimited events sockets; everyone else keeps working."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.conftest import Account, LiveServer, join_as, make_lesson, make_settings, serve_in_thread

DATABASES = ("sqlite",)


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[LiveServer]:
    settings = make_settings(
        tmp_path,
        database_url,
        max_connections_per_room="20",
        staff_reserved_connections="2",
        max_events_sockets_per_user="3",
    )
    yield from serve_in_thread(settings)


async def outcome(ws: ClientConnection) -> int | None:
    try:
        await asyncio.wait_for(ws.recv(), 10)
        return None
    except ConnectionClosed as exc:
        return exc.rcvd.code if exc.rcvd else -1


async def test_students_cannot_lock_the_instructor_out_of_demo(server: LiveServer) -> None:
    lesson = await make_lesson(server.url, server.settings, server.state)
    async with httpx.AsyncClient(base_url=server.url) as http:
        made: list[Account] = [
            await join_as(http, lesson.classroom["join_code"], f"sock{i}") for i in range(20)
        ]
    url = f"{server.ws_url}/yjs/{lesson.room_id}/demo?token="
    opened: list[ClientConnection] = []
    refused = 0
    for account in made:  # one socket each: only the per-room cap can stop them
        ws = await connect(url + account.token)
        if await outcome(ws) is None:
            opened.append(ws)
        else:
            refused += 1
    assert len(opened) == 18 and refused == 2  # 20 - the 2 kept for staff
    teacher = await connect(url + lesson.teacher.token)
    assert await outcome(teacher) is None  # the instructor still gets in
    for ws in [*opened, teacher]:
        await ws.close()


async def test_one_user_cannot_open_unlimited_events_sockets(server: LiveServer) -> None:
    lesson = await make_lesson(server.url, server.settings, server.state)
    url = f"{server.ws_url}/ws/rooms/{lesson.room_id}?token="
    mine = [await connect(url + lesson.alice.token) for _ in range(3)]
    assert [await outcome(ws) for ws in mine] == [None, None, None]
    extra = await connect(url + lesson.alice.token)
    assert await outcome(extra) == 1008
    bob = await connect(url + lesson.bob.token)
    assert await outcome(bob) is None  # another user is not affected
    await mine[0].close()
    again = await connect(url + lesson.alice.token)  # a freed slot can be used again
    assert await outcome(again) is None
    for ws in [*mine[1:], bob, again]:
        await ws.close()
