"""One student's socket sending as fast as it can: closed, made to wait, and nobody else
notices. A real server process with its default budgets.

Before: 4-byte step1s on the 50 KB demo, from a student who only reads it, froze the process
for over a minute (each answered with the whole document, from uvicorn's data callback, a TCP
read of them at a time; the event loop lag was logged at 57 s); ``demo.detach`` sent as fast
as possible made another student's ping take 1.1 s."""

from __future__ import annotations

import asyncio
import json

import httpx
import pycrdt
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from rooms.frames import MessageType, SyncType, step1_frame, update_frame
from tests.conftest import Lesson
from tests.server.processes import ServerProcess, prepare_lesson

DATABASES = ("sqlite",)
FLOOD = 20_000  # frames: four times a socket's burst of 5,000 (1,000 a second, 5 s' worth)


async def synced(process: ServerProcess, lesson: Lesson, doc: str, token: str) -> ClientConnection:
    ws = await connect(f"{process.ws_url}/yjs/{lesson.room_id}/{doc}?token={token}", max_size=None)
    frame = await asyncio.wait_for(ws.recv(), 10)  # the server's step1
    assert isinstance(frame, bytes) and frame[0] == MessageType.SYNC
    return ws


async def closed_with(ws: ClientConnection) -> tuple[int, str]:
    """Read until the server closes; its close code and reason."""
    try:
        while True:
            await asyncio.wait_for(ws.recv(), 20)
    except ConnectionClosed as closed:
        assert closed.rcvd is not None, "no close frame: the server died?"
        return closed.rcvd.code, closed.rcvd.reason
    raise AssertionError("unreachable")


async def flood(ws: ClientConnection, frame: bytes | str, count: int) -> None:
    """Send ``frame`` ``count`` times, as fast as the socket takes them, or until it closes."""
    try:
        for _ in range(count):
            await ws.send(frame)
    except ConnectionClosed:
        pass


async def typed_and_seen(writer: ClientConnection, watcher: ClientConnection, text: str) -> None:
    doc: pycrdt.Doc[object] = pycrdt.Doc()
    doc.get("text", type=pycrdt.Text).insert(0, text)
    frame = update_frame(doc.get_update())
    await writer.send(frame)
    while True:
        got = await asyncio.wait_for(watcher.recv(), 10)
        if isinstance(got, bytes) and got[:2] == bytes([MessageType.SYNC, SyncType.UPDATE]):
            assert got == frame
            return


async def floods_counted(process: ServerProcess, endpoint: str) -> float:
    async with httpx.AsyncClient(base_url=process.url) as http:
        text = (await http.get("/metrics")).text
    prefix = f'classroom_socket_floods_total{{endpoint="{endpoint}"}} '
    return float(next(line for line in text.splitlines() if line.startswith(prefix))[len(prefix) :])


async def the_room_went_on(
    process: ServerProcess,
    lesson: Lesson,
    doc: str,
    bob: ClientConnection,
    watcher: ClientConnection,
    *others: ClientConnection,
) -> None:
    """After Alice's socket on ``doc`` was closed for a flood: Bob and his watcher noticed
    nothing, Alice waits before her next socket is opened, one flood is counted, and the
    process logged no traceback."""
    await typed_and_seen(bob, watcher, "still typing")
    again = await connect(f"{process.ws_url}/yjs/{lesson.room_id}/{doc}?token={lesson.alice.token}")
    code, reason = await closed_with(again)
    assert code == 1008 and reason.startswith("sent too fast before: wait ")
    assert await floods_counted(process, "docs") == 1
    for ws in (bob, watcher, *others):
        await ws.close()
    assert not process.saw("Traceback"), "\n".join(process.log[-60:])


async def test_a_document_socket_flooding_requests_is_closed_and_the_room_goes_on(
    process: ServerProcess, database_url: str
) -> None:
    lesson = await prepare_lesson(database_url, process.url)
    teacher = await synced(process, lesson, "demo", lesson.teacher.token)
    demo: pycrdt.Doc[object] = pycrdt.Doc()
    demo.get("text", type=pycrdt.Text).insert(0, "x" * 50_000)
    await teacher.send(update_frame(demo.get_update()))
    bob_file = f"students/{lesson.bob.id}/main.py"
    bob = await synced(process, lesson, bob_file, lesson.bob.token)
    watcher = await synced(process, lesson, bob_file, lesson.teacher.token)

    # Alice only reads the demo; each step1 would be answered with all of it.
    hostile = await synced(process, lesson, "demo", lesson.alice.token)
    sending = asyncio.create_task(flood(hostile, step1_frame(b"\x00"), FLOOD))
    answers = 0
    try:
        while True:
            frame = await asyncio.wait_for(hostile.recv(), 20)
            if isinstance(frame, bytes) and frame[:2] == bytes([MessageType.SYNC, SyncType.STEP2]):
                answers += 1
    except ConnectionClosed as closed:
        assert closed.rcvd is not None
        assert (closed.rcvd.code, closed.rcvd.reason) == (
            1008,
            "too many frames: at most 1000 a second",
        )
    await sending
    assert 1 <= answers <= 10, "whole-state answers past the request budget (rooms/sync.py 10)"

    await the_room_went_on(process, lesson, "demo", bob, watcher, teacher)


async def test_a_room_socket_flooding_commands_is_closed_and_the_room_goes_on(
    process: ServerProcess, database_url: str
) -> None:
    lesson = await prepare_lesson(database_url, process.url)
    base = f"{process.ws_url}/ws/rooms/{lesson.room_id}?token="
    bob = await connect(base + lesson.bob.token, max_queue=None)
    hostile = await connect(base + lesson.alice.token, max_queue=None)
    for ws in (bob, hostile):
        assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "room.snapshot"

    detach, follow = json.dumps({"type": "demo.detach"}), json.dumps({"type": "demo.follow"})
    sending = asyncio.create_task(flood(hostile, detach, FLOOD // 2))
    sending_too = asyncio.create_task(flood(hostile, follow, FLOOD // 2))
    code, reason = await closed_with(hostile)
    assert (code, reason) == (1008, "too many messages: at most 100 a second")
    await asyncio.gather(sending, sending_too)

    await bob.send(json.dumps({"type": "ping"}))
    while json.loads(await asyncio.wait_for(bob.recv(), 10))["type"] != "pong":
        pass
    again = await connect(base + lesson.alice.token)
    code, reason = await closed_with(again)
    assert code == 1008 and reason.startswith("sent too fast before: wait ")
    # A document socket of hers waits too: it is the same student.
    doc = await connect(f"{process.ws_url}/yjs/{lesson.room_id}/demo?token={lesson.alice.token}")
    assert (await closed_with(doc))[0] == 1008
    assert await floods_counted(process, "events") == 1
    await bob.close()
    assert not process.saw("Traceback"), "\n".join(process.log[-60:])
