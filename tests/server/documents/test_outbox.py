"""SocketOutbox: order, barriers, sends that must wait, overflow and a vanished socket."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry

from server.documents import outbox as doc_outbox
from server.documents.direct import wire_frame
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


class Writer:
    """A direct writer that takes frames until told to decline (a slow reader)."""

    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.declining = False
        self.changed = asyncio.Event()

    async def wait_written(self, count: int) -> None:
        while len(self.written) < count:
            self.changed.clear()
            await asyncio.wait_for(self.changed.wait(), 1)

    def write(self, wire: bytes, turn: object = None) -> bool:
        if self.declining:
            return False
        self.written.append(wire)
        self.changed.set()
        return True


async def test_a_direct_writer_gets_each_frame_encoded_once_for_every_recipient() -> None:
    writers = [Writer() for _ in range(3)]
    socket = Socket()
    metrics = DocMetrics(CollectorRegistry())
    outboxes = [
        SocketOutbox(i, metrics, socket.send, socket.overflow, w) for i, w in enumerate(writers)
    ]
    frame = b"\x00\x02update"
    for outbox in outboxes:
        outbox.enqueue(frame, None, 0.0)
    assert socket.sent == []  # no ASGI send at all
    wires = [w.written[0] for w in writers]
    assert wires[0] == wire_frame(frame) == b"\x82\x08" + frame
    assert wires[0] is wires[1] is wires[2]  # one encoding, shared


async def test_when_the_direct_writer_declines_the_asgi_send_keeps_the_order() -> None:
    writer, socket = Writer(), Socket()
    socket.hold = asyncio.Event()
    metrics = DocMetrics(CollectorRegistry())
    outbox = SocketOutbox(1, metrics, socket.send, socket.overflow, writer)
    outbox.enqueue(b"a", None, 0.0)
    writer.declining = True
    outbox.enqueue(b"b", None, 0.0)  # declined: an ASGI send that must wait
    writer.declining = False
    outbox.enqueue(b"c", None, 0.0)  # behind b, though the writer would take it
    assert writer.written == [wire_frame(b"a")]
    socket.hold.set()
    await socket.wait_sent(1)
    await writer.wait_written(2)
    assert socket.sent == [b"b"]
    assert writer.written == [wire_frame(b"a"), wire_frame(b"c")]
    assert metrics.direct_declined._value.get() == 1


class Recipients:
    """Five recipients of one document in the states a fan-out meets: a socket written to
    directly, one closed, one with a slow send ahead, one whose writer declines, one without
    a direct writer."""

    def __init__(self) -> None:
        self.metrics = DocMetrics(CollectorRegistry())
        self.writers = [Writer() for _ in range(5)]
        self.sockets = [Socket() for _ in range(5)]
        self.outboxes = [
            SocketOutbox(i, self.metrics, s.send, s.overflow, w if i != 4 else None)
            for i, (s, w) in enumerate(zip(self.sockets, self.writers, strict=True))
        ]
        self.outboxes[1].close()
        self.sockets[2].hold = asyncio.Event()
        self.writers[2].declining = True
        self.outboxes[2].enqueue(b"slow", None, 0.0)  # an ASGI send that waits
        self.writers[2].declining = False
        self.writers[3].declining = True

    def seen(self) -> list[tuple[list[bytes], list[bytes], int]]:
        return [
            (w.written, s.sent, o.sent)
            for w, s, o in zip(self.writers, self.sockets, self.outboxes, strict=True)
        ]


async def test_a_fan_out_does_for_each_recipient_what_enqueue_does() -> None:
    one_by_one, fanned = Recipients(), Recipients()
    loop = asyncio.get_running_loop()
    barriers = [loop.create_future(), loop.create_future()]
    frames: list[tuple[bytes, asyncio.Future[None] | None]] = [
        (b"\x00\x02first", None),
        (b"\x00\x02second", barriers[0]),
        (b"\x01awareness", None),
        (b"\x00\x02third", barriers[1]),
    ]
    for frame, barrier in frames:
        for outbox in one_by_one.outboxes:
            outbox.enqueue(frame, barrier, 0.0, wire_frame(frame))
        doc_outbox.fan_out(fanned.outboxes, frame, barrier, 0.0, wire=wire_frame(frame))
    assert fanned.seen() == one_by_one.seen()
    assert fanned.writers[0].written == [wire_frame(b"\x00\x02first")]  # the rest wait
    for future in barriers:
        future.set_result(None)
    for recipients in (one_by_one, fanned):
        hold = recipients.sockets[2].hold
        assert hold is not None
        hold.set()
        await recipients.writers[2].wait_written(len(frames))
        await recipients.sockets[3].wait_sent(len(frames))
        await recipients.sockets[4].wait_sent(len(frames))
    assert fanned.seen() == one_by_one.seen()
    everything = [frame for frame, _ in frames]
    wires = [wire_frame(frame) for frame in everything]
    assert fanned.seen()[0] == (wires, [], 4)  # written directly, in order
    assert fanned.seen()[1] == ([], [], 0)  # closed: nothing
    assert fanned.seen()[2] == (wires, [b"slow"], 5)  # behind the slow send, then directly
    assert fanned.seen()[3] == ([], everything, 4)  # declined each time: ASGI sends
    assert fanned.seen()[4] == ([], everything, 4)  # no direct writer
    # The slow frame in setting up, then each of the four frames to the declining writer.
    assert fanned.metrics.direct_declined._value.get() == 5
