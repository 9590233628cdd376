"""A student cannot create any number of documents, nor grow one past its size quota; what
exists stays readable and writable, and nobody else is affected."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pycrdt
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from rooms.frames import update_frame
from tests.conftest import LiveServer, make_lesson, make_settings, serve_in_thread

DATABASES = ("sqlite",)


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[LiveServer]:
    settings = make_settings(
        tmp_path, database_url, max_docs_per_user="3", max_doc_bytes=str(64 * 1024)
    )
    yield from serve_in_thread(settings)


def text_update(text: str, client_id: int = 7) -> bytes:
    doc: pycrdt.Doc = pycrdt.Doc(client_id=client_id)
    doc["text"] = pycrdt.Text(text)
    return doc.get_update()


async def open_doc(server: LiveServer, room: int, doc: str, token: str) -> ClientConnection:
    return await connect(f"{server.ws_url}/yjs/{room}/{doc}?token={token}", max_size=8 << 20)


async def write_stored(
    server: LiveServer, room: int, name: str, *, token: str, watcher: str, update: bytes
) -> None:
    """Write ``update`` to ``name`` and return once it is stored: the server stores an update
    before it forwards it, so its arrival at a second socket (``watcher``'s) says so."""
    observer = await open_doc(server, room, name, watcher)
    writer = await open_doc(server, room, name, token)
    await observer.recv()
    await writer.recv()
    await writer.send(update_frame(update))

    async def forwarded() -> None:
        while True:
            frame = await observer.recv()
            if isinstance(frame, bytes) and frame[:2] == b"\x00\x02":
                return

    await asyncio.wait_for(forwarded(), 10)
    await writer.close()
    await observer.close()


async def closes(ws: ClientConnection) -> tuple[int, str] | None:
    try:
        while True:
            await asyncio.wait_for(ws.recv(), 3)
    except TimeoutError:
        return None
    except ConnectionClosed as exc:
        assert exc.rcvd is not None
        return exc.rcvd.code, exc.rcvd.reason


async def test_documents_per_student_are_capped(server: LiveServer) -> None:
    lesson = await make_lesson(server.url, server.settings, server.state)
    room, alice = lesson.room_id, lesson.alice
    for i in range(3):
        name = f"students/{alice.id}/f{i}.py"
        update = text_update("x" * 900, client_id=100 + i)
        await write_stored(
            server, room, name, token=alice.token, watcher=lesson.teacher.token, update=update
        )
    fourth = await open_doc(server, room, f"students/{alice.id}/f3.py", alice.token)
    closed = await closes(fourth)
    assert closed is not None and closed[0] == 1008 and "quota" in closed[1]
    # Her existing documents still open; Bob's first one is fine.
    again = await open_doc(server, room, f"students/{alice.id}/f0.py", alice.token)
    assert await closes(again) is None
    bob = await open_doc(server, room, f"students/{lesson.bob.id}/main.py", lesson.bob.token)
    assert await closes(bob) is None
    await again.close()
    await bob.close()


async def test_a_document_cannot_grow_past_its_quota(server: LiveServer) -> None:
    lesson = await make_lesson(server.url, server.settings, server.state)
    name = f"students/{lesson.alice.id}/main.py"
    writer = await open_doc(server, lesson.room_id, name, lesson.alice.token)
    await writer.send(update_frame(text_update("fine\n", client_id=1)))
    watcher = await open_doc(server, lesson.room_id, name, lesson.teacher.token)
    await writer.send(update_frame(text_update("y" * 100_000, client_id=2)))
    closed = await closes(writer)
    assert closed is not None and closed[0] == 1008 and "quota" in closed[1]
    # The document keeps what it had, and the teacher's socket is still open on it.
    docs = server.state.docs
    loaded = docs._docs[(lesson.room_id, name)]
    assert str(loaded.sync.doc.get("text", type=pycrdt.Text)) == "fine\n"
    assert await closes(watcher) is None
    await watcher.close()
