"""The direct fan-out path (server/documents/direct.py) against a real uvicorn server.

If an upgrade of uvicorn changes what DirectWriter relies on, the first test fails rather
than the server silently falling back to one ASGI send per recipient.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import pycrdt
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode

from rooms.frames import MessageType, SyncType, step1_frame, update_frame
from rooms.varint import Reader
from server.documents.direct import HOLD_ABOVE, wire_frame, wire_text_frame
from server.documents.outbox import SocketOutbox
from tests.conftest import Lesson, LiveServer, make_lesson, make_settings, serve_in_thread

DATABASES = ("sqlite",)


@asynccontextmanager
async def doc_socket(
    server: LiveServer, lesson: Lesson, token: str, receive_buffer: int = 0, **options: object
) -> AsyncIterator[ClientConnection]:
    url = f"{server.ws_url}/yjs/{lesson.room_id}/demo?token={token}"
    if receive_buffer:
        # A fixed receive buffer (which also turns off the kernel's autotuning, up to 32 MiB on
        # some machines) so that a reader that stops reading stalls the server's writes soon.
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", server.port))
        options["sock"] = sock
    # No keepalive pings: a stalled reader cannot read their pongs, by design of the test.
    async with connect(url, max_size=None, ping_interval=None, **options) as ws:  # type: ignore[arg-type]
        await ws.send(step1_frame(b"\x00"))
        yield ws


@asynccontextmanager
async def synced(
    server: LiveServer, lesson: Lesson, *tokens: str
) -> AsyncIterator[list[ClientConnection]]:
    """A document socket for each token, each synced (its first update read)."""
    async with AsyncExitStack() as stack:
        sockets = [await stack.enter_async_context(doc_socket(server, lesson, t)) for t in tokens]
        for ws in sockets:
            await asyncio.wait_for(next_update(ws), 10)
        yield sockets


async def next_update(ws: ClientConnection) -> bytes:
    """The payload of the next sync step2 or update frame (awareness and step1 skipped)."""
    while True:
        frame = await ws.recv()
        assert isinstance(frame, bytes)
        reader = Reader(frame)
        if reader.var_uint() == MessageType.SYNC and reader.var_uint() != SyncType.STEP1:
            return reader.var_bytes()


def outboxes(server: LiveServer, lesson: Lesson) -> list[SocketOutbox]:
    loaded = server.state.docs._docs[(lesson.room_id, "demo")]
    return [o for o in loaded.outboxes.values() if isinstance(o, SocketOutbox)]


def typed(content: str) -> bytes:
    """The update of a document whose text ``content`` was typed in one go."""
    doc: pycrdt.Doc[object] = pycrdt.Doc()
    text = doc.get("text", type=pycrdt.Text)
    with doc.new_transaction():
        text.insert(0, content)
    return doc.get_update()


async def text_received(ws: ClientConnection) -> str:
    """The text of the next update ``ws`` is sent."""
    received: pycrdt.Doc[object] = pycrdt.Doc()
    received.apply_update(await asyncio.wait_for(next_update(ws), 10))
    return str(received.get("text", type=pycrdt.Text))


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 200_000])
def test_a_wire_frame_parses_back_as_one_binary_frame(size: int) -> None:
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    frame = _parse(wire_frame(payload))
    assert frame.fin and frame.opcode.name == "BINARY" and frame.data == payload
    # Rule 1's header, written by the server, is the library's to the byte.
    assert wire_frame(payload) == Frame(Opcode.BINARY, payload).serialize(mask=False)
    text = "é" * (size // 2) + "x" * (size % 2)
    assert wire_text_frame(text) == Frame(Opcode.TEXT, text.encode()).serialize(mask=False)


def _parse(data: bytes) -> Frame:
    buffer = bytearray(data)

    def read_exact(n: int):  # type: ignore[no-untyped-def]
        chunk = bytes(buffer[:n])
        del buffer[:n]
        yield from ()
        return chunk

    parser = Frame.parse(read_exact, mask=False)
    try:
        next(parser)
    except StopIteration as done:
        assert not buffer
        frame: Frame = done.value
        return frame
    raise AssertionError("the frame was incomplete")


async def test_the_installed_uvicorn_takes_the_direct_path(
    server: LiveServer, live_lesson: Lesson
) -> None:
    lesson = live_lesson
    async with synced(server, lesson, lesson.teacher.token, lesson.alice.token) as (teacher, alice):
        boxes = outboxes(server, live_lesson)
        assert len(boxes) == 2
        assert all(box.writes_directly for box in boxes)
        assert server.state.docs.metrics.direct_readers._value.get() == 2

        parsed = server.state.docs.metrics.frames_parsed.value
        await teacher.send(update_frame(typed("print('direct')")))
        assert await text_received(alice) == "print('direct')"
        # Rule 6: the update's frame was read by the server, not the websockets parser.
        assert server.state.docs.metrics.frames_parsed.value > parsed


async def test_a_reader_that_stalls_gets_every_update_in_order(tmp_path: Path) -> None:
    """Alice stops reading until the server's transport to her is paused; what the direct
    writer declined goes by the ASGI send, and nothing is lost or reordered."""
    # 8 MB written as fast as the socket takes it: more than a user's share of the loop
    # (server/security/floods.py WorkBudgets), which is not what this test is about.
    settings = make_settings(
        tmp_path,
        f"sqlite:///{tmp_path / 'classroom.db'}",
        max_doc_bytes=str(64 << 20),
        max_doc_work_ms_per_second="0",
    )
    for server in serve_in_thread(settings):
        lesson = await make_lesson(server.url, settings, server.state)
        writer_doc: pycrdt.Doc[object] = pycrdt.Doc()
        text = writer_doc.get("text", type=pycrdt.Text)
        chunk = "x" * 200_000
        async with (
            doc_socket(server, lesson, lesson.teacher.token) as teacher,
            doc_socket(server, lesson, lesson.alice.token, 65536, max_queue=1) as alice,
            doc_socket(server, lesson, lesson.bob.token) as bob,
        ):
            for ws in (teacher, alice, bob):
                await asyncio.wait_for(next_update(ws), 10)  # step2, before the flood
            declined = server.state.docs.metrics.direct_declined
            before = declined._value.get()
            sent = []
            for i in range(40):
                state = writer_doc.get_state()
                with writer_doc.new_transaction():
                    text.insert(len(text), f"<{i}>" + chunk)
                update = writer_doc.get_update(state)
                sent.append(update)
                await teacher.send(update_frame(update))
            # Bob reads as they come: once he has the 40th, the server has stored every update
            # and offered each to Alice's socket, which stopped taking them a few MB in.
            async with asyncio.timeout(60):
                for _ in range(40):
                    await next_update(bob)
            assert declined._value.get() > before
            # Now Alice reads: the 40 updates, in the order they were sent.
            seen: pycrdt.Doc[object] = pycrdt.Doc()
            got = []
            async with asyncio.timeout(60):
                while len(got) < 40:
                    payload = await next_update(alice)
                    got.append(payload)
                    seen.apply_update(payload)
            assert got == sent
            assert str(seen.get("text", type=pycrdt.Text)) == str(text)


def typed_updates(count: int) -> list[bytes]:
    """``count`` update frames of one client typing a character each."""
    doc: pycrdt.Doc[object] = pycrdt.Doc()
    text = doc.get("text", type=pycrdt.Text)
    frames = []
    for i in range(count):
        state = doc.get_state()
        text.insert(len(text), chr(ord("a") + i % 26))
        frames.append(update_frame(doc.get_update(state)))
    return frames


async def test_frames_sent_before_the_socket_is_ready_keep_their_order(
    server: LiveServer, live_lesson: Lesson
) -> None:
    """The writer sends 60 updates without waiting for anything: the first arrive while the
    server still authorizes it and wait in uvicorn's queue, the rest are handed over from the
    data callback once that queue is empty (rule 4). The watcher gets all 60, in the order
    they were typed, across the switch from one way in to the other."""
    metrics = server.state.docs.metrics
    frames = typed_updates(60)
    async with doc_socket(server, live_lesson, live_lesson.alice.token) as watcher:
        await asyncio.wait_for(next_update(watcher), 10)
        url = f"{server.ws_url}/yjs/{live_lesson.room_id}/demo?token={live_lesson.teacher.token}"
        async with connect(url, ping_interval=None) as writer:
            for frame in frames:
                await writer.send(frame)
            got = []
            async with asyncio.timeout(20):
                while len(got) < len(frames):
                    got.append(update_frame(await next_update(watcher)))
            assert got == frames
            assert metrics.direct_readers._value.get() == 2


async def test_frames_behind_a_refused_one_in_the_same_read_are_dropped(
    server: LiveServer, live_lesson: Lesson
) -> None:
    """Alice's client writes a good update, a frame that breaks the protocol and another
    good update in one TCP write: the first is passed on, her socket closes with 1002, and
    the third never reaches anybody."""
    doc_name = f"students/{live_lesson.alice.id}/main.py"
    first, third = typed_updates(2)
    # Another client's: the same client's next update would wait for the one dropped
    # (rooms/sync.py rule 12: held back, neither stored nor sent).
    (later,) = typed_updates(1)
    base = f"{server.ws_url}/yjs/{live_lesson.room_id}/{doc_name}?token="
    async with (
        connect(base + live_lesson.teacher.token, ping_interval=None) as watcher,
        connect(base + live_lesson.alice.token, ping_interval=None) as alice,
        connect(base + live_lesson.teacher.token, ping_interval=None) as teacher,
    ):
        for ws in (watcher, alice, teacher):
            await ws.send(step1_frame(b"\x00"))
            await asyncio.wait_for(next_update(ws), 10)
        wire = b"".join(
            Frame(Opcode.BINARY, payload).serialize(mask=True)
            for payload in (first, b"\x07\x00", third)
        )
        alice.transport.write(wire)
        with pytest.raises(ConnectionClosed) as closed:
            async with asyncio.timeout(10):
                while True:
                    await alice.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1002
        await teacher.send(later)
        async with asyncio.timeout(10):
            assert update_frame(await next_update(watcher)) == first
            assert update_frame(await next_update(watcher)) == later


async def test_a_busy_documents_frames_share_one_write_per_socket(
    server: LiveServer, live_lesson: Lesson
) -> None:
    """Rule 5: the teacher's client writes sixteen updates in one TCP write, which the server
    reads in one turn. The document's share of dispatches that came in a turn with the one
    before passes HOLD_ABOVE (1/8) at the fourth at the latest (from 0: 1/16, 0.121, 0.176),
    so the rest are held and written to the watcher as one buffer at the turn's end: eleven
    frames or more joined to the one before them. The watcher gets all sixteen, in order.
    Then updates that come one a turn are not joined, and the share falls under HOLD_ABOVE."""
    metrics = server.state.docs.metrics
    frames = typed_updates(56)
    burst, single = frames[:16], frames[16:]
    async with doc_socket(server, live_lesson, live_lesson.alice.token) as watcher:
        await asyncio.wait_for(next_update(watcher), 10)
        async with doc_socket(server, live_lesson, live_lesson.teacher.token) as teacher:
            await asyncio.wait_for(next_update(teacher), 10)
            sharing = server.state.docs._docs[(live_lesson.room_id, "demo")].sharing
            joined = metrics.frames_joined.value
            teacher.transport.write(
                b"".join(Frame(Opcode.BINARY, f).serialize(mask=True) for f in burst)
            )
            got = []
            async with asyncio.timeout(20):
                while len(got) < len(burst):
                    got.append(update_frame(await next_update(watcher)))
            assert got == burst
            assert len(burst) - 5 <= metrics.frames_joined.value - joined <= len(burst) - 1
            assert sharing.share > HOLD_ABOVE
            joined = metrics.frames_joined.value
            async with asyncio.timeout(60):
                for frame in single:
                    await teacher.send(frame)
                    assert update_frame(await next_update(watcher)) == frame
            assert metrics.frames_joined.value == joined
            assert sharing.share <= HOLD_ABOVE


@pytest.mark.parametrize(
    ("first", "second", "code"),
    [
        (0x82, 0x05, 1002),  # unmasked, as no client may send
        (0xC2, 0x85, 1002),  # a reserved bit set, with no extension negotiated
        (0x8B, 0x85, 1002),  # an opcode that does not exist
        (0x82, 0xFF, 1009),  # masked, claiming 2**63 - 1 bytes: over the size limit
    ],
)
async def test_a_frame_the_library_refuses_is_refused_and_the_room_goes_on(
    server: LiveServer, live_lesson: Lesson, first: int, second: int, code: int
) -> None:
    """Rule 6 reads the common frame itself; a hostile client's other bytes still meet the
    websockets library's checks: its socket is closed with the library's code, and the
    teacher's next update reaches Bob."""
    lesson = live_lesson
    tokens = lesson.teacher.token, lesson.alice.token, lesson.bob.token
    async with synced(server, lesson, *tokens) as (teacher, alice, bob):
        length = b"\x7f\xff\xff\xff\xff\xff\xff\xff" if second == 0xFF else b""
        mask = b"\x01\x02\x03\x04" if second & 0x80 else b""
        alice.transport.write(bytes((first, second)) + length + mask + b"hello")
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(alice.recv(), 10)
        assert alice.close_code == code

        await teacher.send(update_frame(typed("still here")))
        assert await text_received(bob) == "still here"


async def test_an_update_sent_a_byte_at_a_time_arrives_whole(
    server: LiveServer, live_lesson: Lesson
) -> None:
    """Rule 6 keeps the start of a frame until the rest of it has come."""
    lesson = live_lesson
    async with synced(server, lesson, lesson.teacher.token, lesson.alice.token) as (teacher, alice):
        # A frame with a 2-byte length.
        wire = Frame(Opcode.BINARY, update_frame(typed("x" * 300))).serialize(mask=True)
        sock = teacher.transport.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for byte in wire:
            teacher.transport.write(bytes((byte,)))
        assert await text_received(alice) == "x" * 300
