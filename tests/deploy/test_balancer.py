"""The load balancer keeps a document's sockets, and a room's events sockets, on one process.

Topology as in test_rolling_restart.py: nginx (deploy/nginx/nginx.conf rendered with loopback
ports) in front of two server processes on PostgreSQL and a private Redis. Every response
through nginx names the process that answered (``X-Classroom-Upstream``).

Checked: two users' sockets on one document reach the same process, whoever they are, and
what one types the other receives; documents are spread over both processes; the events
sockets of one room all reach one process; plain HTTP requests still reach both; when the
document's process stops, its sockets are taken by the other process, and a document typed
into there is read back whole through nginx.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pycrdt
import pytest
from websockets.asyncio.client import ClientConnection, connect

from rooms.frames import MessageType, SyncType, step1_frame, update_frame
from rooms.varint import Reader
from tests.deploy.loopback import Nginx, behind_nginx
from tests.server.processes import PrivateRedis, ServerProcess, prepare_lesson, server_env
from tests.services import require
from tests.support.docs import fetch_text
from tests.support.events import EventClient

pytestmark = [pytest.mark.deploy]
DATABASES = ("postgres",)
HEADER = "X-Classroom-Upstream"
DOCUMENTS = 24  # all on one process by chance: about 1 in 8 million


class Editor:
    """One document socket through the balancer: the process it reached, and its document."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        assert ws.response is not None
        self.upstream = ws.response.headers[HEADER]
        self.doc: pycrdt.Doc[object] = pycrdt.Doc()
        self.text = self.doc.get("text", type=pycrdt.Text)

    @classmethod
    async def open(cls, ws_url: str, room: int, name: str, token: str) -> Editor:
        editor = cls(await connect(f"{ws_url}/yjs/{room}/{name}?token={token}"))
        await editor.ws.send(step1_frame(b"\x00"))
        await editor.until(lambda: True)  # its step2: synced
        return editor

    def _apply(self, frame: bytes) -> bool:
        reader = Reader(frame)
        if reader.var_uint() != MessageType.SYNC:
            return False
        if reader.var_uint() not in (SyncType.STEP2, SyncType.UPDATE):
            return False
        self.doc.apply_update(reader.var_bytes())
        return True

    async def until(self, done: Callable[[], bool], timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Apply what the server sends until ``done()`` holds after an applied update."""
        async with asyncio.timeout(timeout):
            while True:
                frame = await self.ws.recv()
                assert isinstance(frame, bytes)
                if self._apply(frame) and done():
                    return

    async def type(self, text: str) -> None:
        before = self.doc.get_state()
        self.text += text
        await self.ws.send(update_frame(self.doc.get_update(before)))

    async def close(self) -> None:
        await self.ws.close()


@pytest.fixture
async def stack(
    database_url: str, redis_server: PrivateRedis, tmp_path: Path
) -> AsyncIterator[tuple[list[ServerProcess], Nginx]]:
    require("nginx")
    env = server_env(tmp_path, database_url, redis_url=redis_server.url)
    first, second, balancer = await behind_nginx(env, tmp_path / "nginx")
    try:
        yield [first, second], balancer
    finally:
        await balancer.stop()
        for server in (first, second):
            await server.stop()


async def test_a_documents_sockets_meet_on_one_process(
    stack: tuple[list[ServerProcess], Nginx], database_url: str
) -> None:
    servers, balancer = stack
    addresses = {f"127.0.0.1:{s.port}" for s in servers}
    lesson = await prepare_lesson(database_url, balancer.url)
    room, alice, teacher = lesson.room_id, lesson.alice, lesson.teacher
    names = [f"students/{alice.id}/part{i}.py" for i in range(DOCUMENTS)]

    # Alice and her teacher open each document: both land where the document's path hashes.
    pairs = []
    for name in names:
        mine = await Editor.open(balancer.ws_url, room, name, alice.token)
        theirs = await Editor.open(balancer.ws_url, room, name, teacher.token)
        assert mine.upstream == theirs.upstream, name
        pairs.append((mine, theirs))
    where = {name: mine.upstream for name, (mine, _) in zip(names, pairs, strict=True)}
    assert set(where.values()) == addresses  # spread over both processes

    # What she types reaches the teacher, on the process they share.
    for i, (mine, theirs) in enumerate(pairs):
        await mine.type(f"print({i})\n")
        want = f"print({i})\n"
        await theirs.until(lambda t=theirs, w=want: str(t.text) == w)  # type: ignore[misc]

    # Again later, with another token: the same process (the query is not hashed).
    again = await Editor.open(balancer.ws_url, room, names[0], alice.token)
    assert again.upstream == where[names[0]]
    assert str(again.text) == "print(0)\n"
    await again.close()

    # The room's events sockets all reach one process, whoever opens them.
    events = [
        await EventClient.open(balancer.ws_url, room, account.token)
        for account in (alice, lesson.bob, teacher, alice)
    ]
    reached = set()
    for client in events:
        assert client.ws.response is not None
        reached.add(client.ws.response.headers[HEADER])
        await client.expect("room.snapshot")
    assert len(reached) == 1 and reached <= addresses, reached
    for client in events:
        await client.close()

    # Plain HTTP is not pinned: requests reach both processes.
    answered = set()
    async with httpx.AsyncClient(base_url=balancer.url) as http:
        for _ in range(8):
            response = await http.get("/health")
            assert response.status_code == 200
            answered.add(response.headers[HEADER])
    assert answered == addresses

    # The process of the first document stops: its sockets are closed (1012), a new socket on
    # that document is taken by the other process, which loads what was typed from the store.
    for mine, theirs in pairs:
        await mine.close()
        await theirs.close()
    (gone,) = [s for s in servers if f"127.0.0.1:{s.port}" == where[names[0]]]
    await gone.stop()
    moved = await Editor.open(balancer.ws_url, room, names[0], alice.token)
    watcher = await Editor.open(balancer.ws_url, room, names[0], teacher.token)
    # nginx tried the document's process first (refused), then the other one.
    (other,) = addresses - {where[names[0]]}
    assert moved.upstream == watcher.upstream == f"{where[names[0]]}, {other}"
    assert str(moved.text) == "print(0)\n"
    await moved.type("print('moved')\n")
    # Sent to the watcher only once stored: a fresh reader gets it from that process.
    await watcher.until(lambda: str(watcher.text) == "print(0)\nprint('moved')\n")
    await moved.close()
    await watcher.close()
    text = await fetch_text(balancer.ws_url, room, names[0], teacher.token)
    assert text == "print(0)\nprint('moved')\n"


async def test_one_session_flooding_the_api_is_refused_by_the_balancer(
    stack: tuple[list[ServerProcess], Nginx], database_url: str
) -> None:
    """deploy/nginx/nginx.conf: 20 requests a second per session, 200 at once. The key is the
    session's token (as a bearer, the page cookie or ?token=), not the address: everyone here
    shares 127.0.0.1, as a school's students share their NAT's address."""
    _, balancer = stack
    lesson = await prepare_lesson(database_url, balancer.url)
    token = lesson.alice.token
    # One session, three ways of carrying its token, used in turn by every worker.
    ways: dict[str, dict[str, Any]] = {
        "bearer": {"headers": lesson.alice.headers},
        "cookie": {"headers": {"Cookie": f"classroom_token={token}"}},
        "query": {"params": {"token": token}},
    }
    codes: Counter[tuple[str, int]] = Counter()
    limits = httpx.Limits(max_connections=20)
    async with httpx.AsyncClient(base_url=balancer.url, limits=limits, timeout=30) as http:
        started = asyncio.get_running_loop().time()

        async def hammer() -> None:
            for n in range(60):
                way = list(ways)[n % len(ways)]
                response = await http.get("/api/me", **ways[way])
                codes[way, response.status_code] += 1

        await asyncio.gather(*(hammer() for _ in range(20)))
        elapsed = asyncio.get_running_loop().time() - started
        assert {status for _, status in codes} == {200, 429}, codes
        # Each way was refused too: one budget, not three.
        assert all(codes[way, 429] > 0 for way in ways), codes
        # At most the burst and what refilled meanwhile got through (slack for the clock).
        passed = sum(count for (_, status), count in codes.items() if status == 200)
        assert passed <= 200 + 20 * elapsed + 20, (codes, elapsed)
        # Another session, and requests with none, are not held back by Alice's.
        assert (await http.get("/api/me", headers=lesson.bob.headers)).status_code == 200
        assert (await http.get("/health")).status_code == 200
