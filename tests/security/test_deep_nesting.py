"""Input nested deep enough to exhaust a recursive decoder, from a student or from nobody.

A Yjs update of 200 KB holding 100,000 nested arrays took the whole server process down: yrs
decodes "any" values recursively and overflowed the stack (SIGSEGV), every room with it. Now
it is refused before it is decoded (rooms/update_check.py), on a document the student writes and
on one they only read. JSON nested past what Python's decoder recurses into (an awareness
state, an HTTP body) is refused as not JSON, where it raised RecursionError: a 500 with a
traceback in the log. A real server process, so a crash shows as a dead process."""

from __future__ import annotations

import asyncio

import httpx
import pycrdt
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from rooms.awareness import AwarenessEntry, encode_awareness
from rooms.frames import MessageType, SyncType, awareness_frame, update_frame
from tests.conftest import Lesson
from tests.server.processes import ServerProcess, prepare_lesson
from tests.support.updates import any_item_update, nested_arrays

DATABASES = ("sqlite",)


async def opened(server: ServerProcess, lesson: Lesson, doc: str, token: str) -> ClientConnection:
    ws = await connect(f"{server.ws_url}/yjs/{lesson.room_id}/{doc}?token={token}")
    frame = await asyncio.wait_for(ws.recv(), 10)  # the server's step1: the socket is in
    assert isinstance(frame, bytes) and frame[0] == MessageType.SYNC
    return ws


async def close_code(ws: ClientConnection) -> int:
    with pytest.raises(ConnectionClosed) as info:
        while True:
            await asyncio.wait_for(ws.recv(), 20)
    assert info.value.rcvd is not None, "closed without a close frame: the server died?"
    return info.value.rcvd.code


async def next_update(ws: ClientConnection) -> bytes:
    while True:
        frame = await asyncio.wait_for(ws.recv(), 10)
        assert isinstance(frame, bytes)
        if frame[0] == MessageType.SYNC and frame[1] == SyncType.UPDATE:
            return frame


async def test_nesting_past_any_decoder_is_refused_and_the_server_goes_on(
    process: ServerProcess, database_url: str
) -> None:
    lesson = await prepare_lesson(database_url, process.url)
    own = f"students/{lesson.alice.id}/main.py"
    teacher = await opened(process, lesson, own, lesson.teacher.token)
    watcher = await opened(process, lesson, own, lesson.teacher.token)
    deep = update_frame(any_item_update(nested_arrays(100_000)))
    assert 200_000 < len(deep) < 210_000

    # Her own file (the update would be applied) and the demo, which she only reads (the
    # server would decode the update to tell a handshake from a write).
    for doc in (own, "demo"):
        hostile = await opened(process, lesson, doc, lesson.alice.token)
        await hostile.send(deep)
        assert await close_code(hostile) == 1002

    # A state nested 3,000 deep is JSON to a browser, and more than Python's decoder takes.
    presence = await opened(process, lesson, own, lesson.alice.token)
    state = "[" * 3000 + "]" * 3000
    await presence.send(awareness_frame(encode_awareness([AwarenessEntry(12, 1, state)])))
    assert await close_code(presence) == 1002

    async with httpx.AsyncClient(base_url=process.url) as http:
        body = b"[" * 100_000
        for path in ("/api/join", "/api/auth/login"):
            response = await http.post(
                path, content=body, headers={"content-type": "application/json"}
            )
            assert response.status_code == 400, response.text
            assert response.json()["error"]["code"] == "invalid_json"
        assert (await http.get("/health")).status_code == 200

    assert process.process is not None and process.process.returncode is None
    doc: pycrdt.Doc[object] = pycrdt.Doc()
    doc.get("text", type=pycrdt.Text).insert(0, "still here")
    frame = update_frame(doc.get_update())
    await teacher.send(frame)
    assert await next_update(watcher) == frame
    for ws in (teacher, watcher):
        await ws.close()
    assert not process.saw("Traceback"), "\n".join(process.log[-60:])
