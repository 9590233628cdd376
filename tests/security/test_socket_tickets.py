"""Pages hold no long-lived token: each socket opens with a short-lived, single-use ticket
(dead on every process once used). Tools keep using a bearer token (Node Yjs clients)."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from server.auth import COOKIE_NAME
from tests.conftest import LiveServer, make_lesson
from tests.node.harness import YjsHarness
from tests.security.helpers import served
from tests.services import require

DATABASES = ("sqlite",)


@pytest.fixture
def servers(tmp_path: Path, database_url: str) -> Iterator[list[LiveServer]]:
    with served(tmp_path, database_url) as pair:
        yield pair


async def ticket_for(server: LiveServer, cookie_token: str) -> str:
    """The page's way: the cookie, from the page's own origin."""
    async with httpx.AsyncClient(base_url=server.url, cookies={COOKIE_NAME: cookie_token}) as http:
        response = await http.post("/api/socket-tickets", headers={"Origin": server.url})
    assert response.status_code == 201, response.text
    ticket: str = response.json()["ticket"]
    return ticket


async def outcome(url: str) -> int | None:
    """None when the socket opened and spoke; else the close code."""
    try:
        async with connect(url) as ws:
            await asyncio.wait_for(ws.recv(), 10)
            return None
    except ConnectionClosed as exc:
        return exc.rcvd.code if exc.rcvd else -1


async def test_a_ticket_opens_one_socket_once_on_any_process(servers: list[LiveServer]) -> None:
    a, b = servers
    lesson = await make_lesson(a.url, a.settings, a.state)
    # The room page carries no token any more.
    async with httpx.AsyncClient(base_url=a.url, cookies={COOKIE_NAME: lesson.alice.token}) as http:
        page = await http.get(f"/rooms/{lesson.room_id}")
    assert page.status_code == 200 and lesson.alice.token not in page.text
    boot = json.loads(
        re.search(
            r'<script type="application/json" id="boot">(.*?)</script>', page.text, re.S
        ).group(1)
    )  # type: ignore[union-attr]
    assert "token" not in boot
    ticket = await ticket_for(a, lesson.alice.token)
    events = f"/ws/rooms/{lesson.room_id}?ticket={ticket}"
    assert await outcome(b.ws_url + events) is None  # issued on A, used on B
    assert await outcome(a.ws_url + events) == 1008  # used: dead on A too
    assert await outcome(b.ws_url + events) == 1008
    # A document socket takes one as well.
    doc_ticket = await ticket_for(b, lesson.alice.token)
    doc = f"/yjs/{lesson.room_id}/students/{lesson.alice.id}/main.py?ticket={doc_ticket}"
    assert await outcome(a.ws_url + doc) is None
    assert await outcome(a.ws_url + doc) == 1008
    # A forged or stale ticket does not open anything.
    assert await outcome(a.ws_url + f"/ws/rooms/{lesson.room_id}?ticket=forged") == 1008

    class Yesterday(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 3600

    stale = URLSafeTimedSerializer(
        a.settings.secret_key, salt="classroom.ticket.v1", signer=Yesterday
    ).dumps({"uid": lesson.alice.id, "kind": "student", "gen": 0, "n": "old"})
    assert await outcome(a.ws_url + f"/ws/rooms/{lesson.room_id}?ticket={stale}") == 1008
    # A ticket from a foreign page cannot be had: the cookie call needs our Origin.
    async with httpx.AsyncClient(base_url=a.url, cookies={COOKIE_NAME: lesson.alice.token}) as http:
        foreign = await http.post("/api/socket-tickets", headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 403


async def test_a_node_yjs_client_with_a_bearer_token_still_works(servers: list[LiveServer]) -> None:
    require("node")
    a, _ = servers
    lesson = await make_lesson(a.url, a.settings, a.state)
    async with YjsHarness() as yjs:
        opened = await yjs.call(
            "open",
            client="tool",
            url=f"{a.ws_url}/yjs",
            doc=f"{lesson.room_id}/demo",
            token=lesson.teacher.token,
        )
        assert opened["synced"] is True
        await yjs.call("insert", client="tool", text="from node")
        assert (await yjs.call("text", client="tool"))["text"] == "from node"
