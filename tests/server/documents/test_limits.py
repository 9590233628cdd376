"""Limits and hostile input on /yjs: each refused socket gets its close code, others go on."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pycrdt
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from rooms.frames import MessageType, SyncType, update_frame
from server.settings import Settings
from tests.conftest import Lesson, LiveServer, make_settings

DATABASES = ("sqlite",)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(
        tmp_path,
        database_url,
        max_connections_per_user="2",
        max_connections_per_room="3",
        max_frame_bytes="4096",
    )


class Sockets:
    def __init__(self, server: LiveServer, lesson: Lesson) -> None:
        self.server = server
        self.lesson = lesson
        self.open: list[ClientConnection] = []

    async def connect(self, token: str, doc: str = "demo") -> ClientConnection:
        url = f"{self.server.ws_url}/yjs/{self.lesson.room_id}/{doc}?token={token}"
        ws = await connect(url)
        self.open.append(ws)
        return ws


@pytest.fixture
async def sockets(server: LiveServer, live_lesson: Lesson) -> AsyncIterator[Sockets]:
    holder = Sockets(server, live_lesson)
    yield holder
    for ws in holder.open:
        await ws.close()


async def closed_with(ws: ClientConnection) -> tuple[int, str]:
    with pytest.raises(ConnectionClosed) as info:
        while True:
            await asyncio.wait_for(ws.recv(), 10)
    assert info.value.rcvd is not None
    return info.value.rcvd.code, info.value.rcvd.reason


async def first_frame(ws: ClientConnection) -> bytes:
    frame = await asyncio.wait_for(ws.recv(), 10)
    assert isinstance(frame, bytes)
    return frame


async def next_update(ws: ClientConnection) -> bytes:
    while True:
        frame = await first_frame(ws)
        if frame[0] == MessageType.SYNC and frame[1] == SyncType.UPDATE:
            return frame


async def test_per_user_and_per_room_limits_close_1008(
    sockets: Sockets, live_lesson: Lesson
) -> None:
    first = await sockets.connect(live_lesson.alice.token)
    second = await sockets.connect(live_lesson.alice.token)
    assert (await first_frame(first))[0] == MessageType.SYNC
    assert (await first_frame(second))[0] == MessageType.SYNC
    third = await sockets.connect(live_lesson.alice.token)
    code, reason = await closed_with(third)
    assert code == 1008 and "2 documents open" in reason

    teacher = await sockets.connect(live_lesson.teacher.token)
    assert (await first_frame(teacher))[0] == MessageType.SYNC
    bob = await sockets.connect(live_lesson.bob.token)
    code, reason = await closed_with(bob)
    assert code == 1008 and "room" in reason


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b"\x07\x00", 1002),  # unknown message type
        # Peer frames travel only between server processes (server/documents/peers.py): a
        # client's HELLO or BYE is refused like any unknown type, and never published.
        (b"\x64\x00", 1002),
        (b"\x64\x02", 1002),
        (b"\x00\x02\x05ab", 1002),  # length past the end
        (b"\x00\x02\x03\x01\x02\x03", 1002),  # an update that does not decode
        (b"\x00" * 5000, 1009),  # over max_frame_bytes
        ("text", 1003),  # the protocol is binary
    ],
)
async def test_hostile_frames_close_only_their_socket(
    sockets: Sockets, live_lesson: Lesson, payload: bytes | str, code: int
) -> None:
    # Alice writes her own file, so her frames are decoded, not just refused.
    doc_name = f"students/{live_lesson.alice.id}/main.py"
    writer = await sockets.connect(live_lesson.teacher.token, doc_name)
    watcher = await sockets.connect(live_lesson.teacher.token, doc_name)
    hostile = await sockets.connect(live_lesson.alice.token, doc_name)
    for ws in (writer, watcher, hostile):
        await first_frame(ws)
    await hostile.send(payload)
    got, _ = await closed_with(hostile)
    assert got == code

    doc: pycrdt.Doc = pycrdt.Doc()
    doc.get("text", type=pycrdt.Text).insert(0, "still fine")
    frame = update_frame(doc.get_update())
    await writer.send(frame)
    assert await next_update(watcher) == frame
