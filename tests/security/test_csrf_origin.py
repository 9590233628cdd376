"""The page cookie authenticates page loads, not cross-site writes: a state-changing call with
the cookie alone must come from an allowed Origin; sockets check Origin too
(``CLASSROOM_ALLOWED_ORIGINS``, default the server's own)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from server.auth import COOKIE_NAME
from server.settings import Settings
from tests.conftest import Lesson, LiveServer, make_settings, serve_in_thread

DATABASES = ("sqlite",)
EVIL = "https://evil.example"


async def classrooms_of(server: LiveServer, lesson: Lesson) -> list[str]:
    async with httpx.AsyncClient(base_url=server.url) as http:
        listed = await http.get(
            "/api/classrooms", headers={"Authorization": f"Bearer {lesson.teacher.token}"}
        )
    return [c["title"] for c in listed.json()["classrooms"]]


async def test_a_cross_site_post_with_the_cookie_is_refused(
    server: LiveServer, live_lesson: Lesson
) -> None:
    cookie = {COOKIE_NAME: live_lesson.teacher.token}
    async with httpx.AsyncClient(base_url=server.url, cookies=cookie) as http:
        # The form a foreign page can send: text/plain, the visitor's cookie, a foreign Origin.
        forged = await http.post(
            "/api/classrooms",
            content='{"title": "pwned"}',
            headers={"Content-Type": "text/plain", "Origin": EVIL},
        )
        assert forged.status_code == 403 and forged.json()["error"]["code"] == "cross_origin"
        # No Origin at all with only the cookie: refused too.
        bare = await http.post("/api/classrooms", json={"title": "pwned"})
        assert bare.status_code == 403
        # Reading with the cookie is fine (page loads and GETs).
        assert (await http.get("/api/me")).status_code == 200
        # The page itself (same origin) may write with its cookie.
        own = await http.post(
            "/api/classrooms", json={"title": "from the page"}, headers={"Origin": server.url}
        )
        assert own.status_code == 201
    # A bearer token needs no Origin (another site cannot read it).
    async with httpx.AsyncClient(base_url=server.url) as http:
        tool = await http.post(
            "/api/classrooms",
            json={"title": "from a script"},
            headers={"Authorization": f"Bearer {live_lesson.teacher.token}"},
        )
        assert tool.status_code == 201
    titles = await classrooms_of(server, live_lesson)
    assert "pwned" not in titles and {"from the page", "from a script"} <= set(titles)


async def closed_code(url: str, origin: str | None) -> int | None:
    """The close code the server sends right away, or None if the socket stays open."""
    headers = {"Origin": origin} if origin else {}
    async with connect(url, additional_headers=headers) as ws:
        try:
            await asyncio.wait_for(ws.recv(), 5)
        except ConnectionClosed as exc:
            return exc.rcvd.code if exc.rcvd else None
    return None


async def test_sockets_refuse_a_foreign_origin(server: LiveServer, live_lesson: Lesson) -> None:
    token = live_lesson.alice.token
    docs = f"{server.ws_url}/yjs/{live_lesson.room_id}/demo?token={token}"
    events = f"{server.ws_url}/ws/rooms/{live_lesson.room_id}?token={token}"
    for url in (docs, events):
        assert await closed_code(url, EVIL) == 1008
        assert await closed_code(url, server.url) is None  # the page's own origin
        assert await closed_code(url, None) is None  # a tool (Node, Python) sends none


@pytest.fixture
def configured(tmp_path: Path, database_url: str) -> Iterator[LiveServer]:
    settings: Settings = make_settings(
        tmp_path, database_url, allowed_origins="https://class.example, https://other.example"
    )
    yield from serve_in_thread(settings)


async def test_configured_origins_are_the_ones_allowed(configured: LiveServer) -> None:
    from tests.conftest import make_lesson

    lesson = await make_lesson(configured.url, configured.settings, configured.state)
    url = f"{configured.ws_url}/ws/rooms/{lesson.room_id}?token={lesson.alice.token}"
    assert await closed_code(url, "https://class.example") is None
    assert await closed_code(url, configured.url) == 1008  # not in the list
    cookie = {COOKIE_NAME: lesson.teacher.token}
    async with httpx.AsyncClient(base_url=configured.url, cookies=cookie) as http:
        ok = await http.post(
            "/api/classrooms", json={"title": "x"}, headers={"Origin": "https://other.example"}
        )
        assert ok.status_code == 201
        no = await http.post("/api/classrooms", json={"title": "y"}, headers={"Origin": EVIL})
        assert no.status_code == 403
