"""SocketOutbox: order, barriers, sends that must wait, overflow and a vanished socket."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry

from server.documents import outbox as doc_outbox
from server.documents.metrics import DocMetrics
from server.documents.outbox import SocketOutbox


class Socket:
    """Records sends; ``hold`` makes sends wait (a slow reader) until released."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.hold: asyncio.Event | None = None
        self.gone = False
        self.overflowed = asyncio.Event()
        self.changed = asyncio.Event()

    async def wait_sent(self, count: int) -> None:
        while len(self.sent) < count:
            self.changed.clear()
            await asyncio.wait_for(self.changed.wait(), 1)

    async def send(self, frame: bytes) -> None:
        if self.gone:
            raise RuntimeError("socket closed")
        if self.hold is not None:
            await self.hold.wait()
        self.sent.append(frame)
        self.changed.set()

    async def overflow(self) -> None:
        self.overflowed.set()


def outbox_for(socket: Socket) -> SocketOutbox:
    return SocketOutbox(1, DocMetrics(CollectorRegistry()), socket.send, socket.overflow)


async def test_frames_without_a_pending_barrier_go_out_at_once_in_order() -> None:
    socket = Socket()
    outbox = outbox_for(socket)
    for frame in (b"a", b"b", b"c"):
        outbox.enqueue(frame, None, 0.0)
    assert socket.sent == [b"a", b"b", b"c"]


async def test_frames_wait_for_their_commit_and_keep_their_order() -> None:
    socket = Socket()
    outbox = outbox_for(socket)
    loop = asyncio.get_running_loop()
    first, second = loop.create_future(), loop.create_future()
    outbox.enqueue(b"1", first, 0.0)
    outbox.enqueue(b"awareness", None, 0.0)  # behind a pending update: waits too
    outbox.enqueue(b"2", second, 0.0)
    assert socket.sent == []
    first.set_result(None)
    await socket.wait_sent(2)
    assert socket.sent == [b"1", b"awareness"]
    second.set_result(None)
    await socket.wait_sent(3)
    assert socket.sent == [b"1", b"awareness", b"2"]


async def test_a_send_that_must_wait_is_finished_by_a_task_then_the_queue_goes_on() -> None:
    socket = Socket()
    socket.hold = asyncio.Event()
    outbox = outbox_for(socket)
    outbox.enqueue(b"slow", None, 0.0)
    outbox.enqueue(b"next", None, 0.0)
    assert socket.sent == []
    socket.hold.set()
    await socket.wait_sent(2)
    assert socket.sent == [b"slow", b"next"]
    socket.hold = None
    outbox.enqueue(b"fast again", None, 0.0)
    assert socket.sent[-1] == b"fast again"


async def test_overflow_closes_the_socket_and_drops_the_queue(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(doc_outbox, "MAX_QUEUED_FRAMES", 3)
    socket = Socket()
    outbox = outbox_for(socket)
    never = asyncio.get_running_loop().create_future()
    for i in range(4):
        outbox.enqueue(bytes([i]), never, 0.0)
    await asyncio.wait_for(socket.overflowed.wait(), 1)
    assert outbox.closed
    outbox.enqueue(b"late", None, 0.0)
    assert socket.sent == []


async def test_a_vanished_socket_stops_the_outbox_without_raising() -> None:
    socket = Socket()
    outbox = outbox_for(socket)
    socket.gone = True
    outbox.enqueue(b"x", None, 0.0)
    assert outbox.closed
    outbox.enqueue(b"y", None, 0.0)
    assert socket.sent == []
