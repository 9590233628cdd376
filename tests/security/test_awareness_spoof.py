"""Awareness on the `demo` document: a read-only student cannot overwrite the teacher's entry,
cannot flood the table, and cannot make newcomers download a huge greeting. Real server, a
hostile raw socket (it writes the frames a stock client never would) and Node Yjs clients."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from websockets.asyncio.client import ClientConnection, connect

from rooms.awareness import AwarenessEntry, Reader, decode_awareness, encode_awareness
from rooms.frames import MessageType, awareness_frame
from tests.conftest import Lesson, LiveServer
from tests.node.harness import YjsHarness

DATABASES = ("sqlite",)


def raw_socket(server: LiveServer, lesson: Lesson, token: str) -> connect:
    url = f"{server.ws_url}/yjs/{lesson.room_id}/demo?token={token}"
    # Unbounded: a hostile socket reads nothing, and at the bound its close would wait out
    # close_timeout (10 s), the server's closing frame stuck behind what it left unread.
    return connect(url, max_size=64 << 20, max_queue=None)


Hostile = Callable[[Lesson, str], Awaitable[ClientConnection]]


@pytest.fixture
async def hostile(server: LiveServer) -> AsyncIterator[Hostile]:
    """Opens raw sockets on the `demo` document; all are closed when the test ends, passed
    or not (one left open warns in a later test)."""
    async with contextlib.AsyncExitStack() as opened:

        async def open_socket(lesson: Lesson, token: str) -> ClientConnection:
            return await opened.enter_async_context(raw_socket(server, lesson, token))

        yield open_socket


async def open_node(
    yjs: YjsHarness, server: LiveServer, lesson: Lesson, client: str, token: str
) -> None:
    await yjs.call(
        "open",
        client=client,
        url=f"{server.ws_url}/yjs",
        doc=f"{lesson.room_id}/demo",
        token=token,
    )


async def greeting_awareness(server: LiveServer, lesson: Lesson, token: str) -> bytes:
    """The awareness frame a newcomer gets on open (empty when there is none)."""
    async with raw_socket(server, lesson, token) as ws:
        try:
            while True:
                frame = await asyncio.wait_for(ws.recv(), 2)
                assert isinstance(frame, bytes)
                if frame[0] == MessageType.AWARENESS:
                    return frame
        except TimeoutError:
            return b""


async def test_a_student_cannot_overwrite_the_teachers_entry(
    server: LiveServer, live_lesson: Lesson, yjs: YjsHarness, hostile: Hostile
) -> None:
    await open_node(yjs, server, live_lesson, "teacher", live_lesson.teacher.token)
    await open_node(yjs, server, live_lesson, "bob", live_lesson.bob.token)
    await yjs.call("set_awareness", client="teacher", state={"user": {"name": "Ada"}})
    seen = await yjs.call("wait_awareness", client="bob", count=1)
    [(teacher_id, teacher_state)] = seen["states"].items()
    assert teacher_state == {"user": {"name": "Ada"}}

    # Mallory (read-only on demo) claims the teacher's client id with a far newer clock,
    # then tries to remove it.
    mallory = await hostile(live_lesson, live_lesson.alice.token)
    spoof = {"user": {"name": "Ada"}, "cursor": "evil"}
    forged = [AwarenessEntry(int(teacher_id), 1 << 40, json.dumps(spoof))]
    await mallory.send(awareness_frame(encode_awareness(forged)))
    await mallory.send(
        awareness_frame(encode_awareness([AwarenessEntry(int(teacher_id), 1 << 41, "null")]))
    )
    # Her own entry is still hers to set: it reaches Bob, so the spoofs were processed first.
    # Under the name of the user she is, whatever it says (rooms/sync.py rule 11).
    mine = [AwarenessEntry(4242, 1, json.dumps({"user": {"name": "Mallory"}}))]
    await mallory.send(awareness_frame(encode_awareness(mine)))
    seen = await yjs.call("wait_awareness", client="bob", count=2)
    assert seen["states"][str(teacher_id)] == {"user": {"name": "Ada"}}
    assert seen["states"]["4242"] == {"user": {"name": "Alice"}}
    await mallory.close()
    gone = await yjs.call("wait_awareness", client="bob", count=1)
    assert gone["states"] == {str(teacher_id): {"user": {"name": "Ada"}}}


async def test_a_flood_of_entries_is_dropped(
    server: LiveServer, live_lesson: Lesson, yjs: YjsHarness, hostile: Hostile
) -> None:
    await open_node(yjs, server, live_lesson, "bob", live_lesson.bob.token)
    mallory = await hostile(live_lesson, live_lesson.alice.token)
    state = "{}"  # small, so 60,000 entries fit in one frame under the 1 MiB limit
    for frame_no in range(6):  # 6 x 60,000 = the 360,000 entries of the report
        base = frame_no * 60_000
        entries = [AwarenessEntry(base + i + 1, 1, state) for i in range(60_000)]
        await mallory.send(awareness_frame(encode_awareness(entries)))
    # Also over the per-connection caps: too many ids one at a time, a state too big.
    for cid in range(900_000, 900_010):
        await mallory.send(awareness_frame(encode_awareness([AwarenessEntry(cid, 1, "{}")])))
    huge = json.dumps({"user": {"name": "y" * 100_000}})
    await mallory.send(awareness_frame(encode_awareness([AwarenessEntry(999_999, 1, huge)])))
    # A renewal of an id she holds still passes (and tells us the rest was processed).
    marker = [AwarenessEntry(900_000, 2, json.dumps({"cursor": "last"}))]
    await mallory.send(awareness_frame(encode_awareness(marker)))

    seen = await yjs.call(
        "wait_awareness", client="bob", includes={"cursor": "last"}, timeout_ms=10_000
    )
    # Bob holds the connection's cap (4 ids), never the flood nor the huge state.
    assert set(seen["states"]) == {"900000", "900001", "900002", "900003"}
    assert all(len(json.dumps(s)) < 4096 for s in seen["states"].values())
    # A newcomer's greeting stays small.
    greeting = await greeting_awareness(server, live_lesson, live_lesson.teacher.token)
    assert len(greeting) < 2048
    reader = Reader(greeting)
    assert reader.var_uint() == MessageType.AWARENESS
    assert len(decode_awareness(reader.var_bytes())) <= 5  # her 4 and Bob's
    # The document still works for everyone: the teacher writes, Bob reads.
    await open_node(yjs, server, live_lesson, "teacher", live_lesson.teacher.token)
    await yjs.call("insert", client="teacher", text="still fine")
    assert (await yjs.call("wait_text", client="bob", equals="still fine"))["text"]
    await mallory.close()


async def test_fast_cursor_moves_are_coalesced_not_lost(
    live_lesson: Lesson, hostile: Hostile
) -> None:
    bob = await hostile(live_lesson, live_lesson.bob.token)  # a raw observer
    mallory = await hostile(live_lesson, live_lesson.alice.token)
    for clock in range(1, 501):  # 500 renewals at once: far over the 20/s budget
        entry = AwarenessEntry(31337, clock, json.dumps({"n": clock}))
        await mallory.send(awareness_frame(encode_awareness([entry])))
    frames = 0

    async def until_last() -> None:
        nonlocal frames
        while True:
            frame = await bob.recv()
            assert isinstance(frame, bytes)
            if frame[0] != MessageType.AWARENESS:
                continue
            frames += 1
            reader = Reader(frame)
            reader.var_uint()
            if any(e.state == '{"n": 500}' for e in decode_awareness(reader.var_bytes())):
                return

    # The newest state still arrives (coalesced), in far fewer frames than were sent.
    await asyncio.wait_for(until_last(), 10)
    assert frames <= 60, frames
