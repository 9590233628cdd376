"""Sign-out and a password reset revoke every earlier token, on every process: API calls,
open sockets and new sockets. Two real servers sharing the database and Redis."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from server.auth import hash_password
from server.cli import _upsert_instructor
from tests.conftest import Lesson, LiveServer, make_lesson
from tests.security.helpers import served
from tests.support.events import EventClient

DATABASES = ("sqlite", "postgres")


@pytest.fixture
def servers(tmp_path: Path, database_url: str) -> Iterator[list[LiveServer]]:
    with served(tmp_path, database_url, session_cache_seconds="0") as pair:
        yield pair


async def closed_with(client: EventClient) -> int:
    with pytest.raises(ConnectionClosed) as info:
        while True:
            await client.next(timeout=10)
    assert info.value.rcvd is not None
    return info.value.rcvd.code


async def test_sign_out_revokes_the_token_everywhere(servers: list[LiveServer]) -> None:
    a, b = servers
    lesson: Lesson = await make_lesson(a.url, a.settings, a.state)
    alice = lesson.alice
    on_b = await EventClient.open(b.ws_url, lesson.room_id, alice.token)
    await on_b.expect("room.snapshot")
    bob = await EventClient.open(b.ws_url, lesson.room_id, lesson.bob.token)
    await bob.expect("room.snapshot")
    async with httpx.AsyncClient(base_url=a.url) as http:
        assert (await http.get("/api/me", headers=alice.headers)).status_code == 200
        out = await http.post("/api/auth/logout", headers=alice.headers)
        assert out.status_code == 204
    # Her open socket on the other process is closed at once (1012: reconnect)...
    assert await closed_with(on_b) == 1012
    # ... and the token is dead on both processes, for the API and for new sockets.
    for server in servers:
        async with httpx.AsyncClient(base_url=server.url) as http:
            me = await http.get("/api/me", headers=alice.headers)
            assert me.status_code == 401 and me.json()["error"]["code"] == "token_revoked"
        again = await EventClient.open(server.ws_url, lesson.room_id, alice.token)
        assert await closed_with(again) == 1008
    # Nobody else was touched: Bob's socket still answers.
    await bob.send({"type": "ping"})
    await bob.expect("pong")
    await bob.ws.close()


async def test_a_password_reset_revokes_earlier_tokens(servers: list[LiveServer]) -> None:
    a, b = servers
    lesson = await make_lesson(a.url, a.settings, a.state)
    async with httpx.AsyncClient(base_url=b.url) as http:
        login = {"email": "teacher@example.org", "password": "correct horse"}
        token = (await http.post("/api/auth/login", json=login)).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        assert (await http.get("/api/me", headers=headers)).status_code == 200
        # What `python -m server create-instructor` does to reset a password.
        await _upsert_instructor(a.settings, "teacher@example.org", "Ada", hash_password("new one"))
        for server in servers:
            me = await http.get(f"{server.url}/api/me", headers=headers)
            assert me.status_code == 401 and me.json()["error"]["code"] == "token_revoked"
        fresh = await http.post(
            "/api/auth/login", json={"email": "teacher@example.org", "password": "new one"}
        )
        assert fresh.status_code == 200
        new_headers = {"Authorization": f"Bearer {fresh.json()['token']}"}
        assert (await http.get("/api/me", headers=new_headers)).status_code == 200
        # Students were not signed out.
        assert (await http.get("/api/me", headers=lesson.alice.headers)).status_code == 200
