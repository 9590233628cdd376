"""The keep-alive sweep over real outboxes: a socket sent nothing since the last sweep gets
one empty awareness frame; a busy, a stalled, a closed or a departed one gets none."""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry

from rooms.awareness import decode_awareness
from rooms.frames import MessageType
from server.documents.keepalive import KEEPALIVE, KeepAlive
from server.documents.metrics import DocMetrics
from server.documents.outbox import SocketOutbox


class Socket:
    """The ASGI send of one socket: records frames; ``stall`` makes the next send wait."""

    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self.stall: asyncio.Future[None] | None = None
        self.arrived = asyncio.Event()

    async def send(self, frame: bytes) -> None:
        if self.stall is not None:
            await self.stall
        self.frames.append(frame)
        self.arrived.set()

    async def next_frame(self) -> bytes:
        self.arrived.clear()
        await asyncio.wait_for(self.arrived.wait(), 5)
        return self.frames[-1]


async def nothing() -> None:
    return None


def outbox_on(conn_id: int, metrics: DocMetrics) -> tuple[SocketOutbox, Socket]:
    socket = Socket()
    return SocketOutbox(conn_id, metrics, socket.send, nothing), socket


def test_the_keepalive_is_an_awareness_update_with_no_entries() -> None:
    assert KEEPALIVE[0] == MessageType.AWARENESS
    assert decode_awareness(KEEPALIVE[2:]) == []
    assert len(KEEPALIVE) == 3


async def test_only_sockets_quiet_since_the_last_sweep_get_one() -> None:
    registry = CollectorRegistry()
    metrics = DocMetrics(registry)
    keepalive = KeepAlive(10.0, metrics.keepalives)
    quiet, quiet_socket = outbox_on(1, metrics)
    busy, busy_socket = outbox_on(2, metrics)
    stalled, stalled_socket = outbox_on(3, metrics)
    closed, closed_socket = outbox_on(4, metrics)
    gone, gone_socket = outbox_on(5, metrics)
    for outbox in (quiet, busy, stalled, closed, gone):
        keepalive.add(outbox)
        outbox.enqueue(b"\x00\x00\x01\x00", None, 0.0)  # the greeting of a new socket
    # The first sweep only notes what each was sent since it opened.
    assert keepalive.sweep() == 0
    busy.enqueue(b"\x00\x02\x01\x00", None, 0.0)
    stalled_socket.stall = asyncio.get_running_loop().create_future()
    stalled.enqueue(b"\x00\x02\x01\x01", None, 0.0)  # a slow reader: the send waits
    closed.close()
    keepalive.discard(gone)
    assert keepalive.sweep() == 1
    assert quiet_socket.frames[-1] == KEEPALIVE
    for socket in (busy_socket, stalled_socket, closed_socket, gone_socket):
        assert KEEPALIVE not in socket.frames
    # Quiet on: one more each sweep. Busy turned quiet: one from the next sweep on.
    assert keepalive.sweep() == 2
    assert quiet_socket.frames.count(KEEPALIVE) == 2
    assert busy_socket.frames[-1] == KEEPALIVE
    assert registry.get_sample_value("classroom_doc_keepalives_total") == 3
    # The stalled socket's send finishes: it is then idle, and quiet from the next sweep.
    stalled_socket.stall.set_result(None)
    assert await stalled_socket.next_frame() == b"\x00\x02\x01\x01"
    assert stalled.idle
    keepalive.sweep()
    assert keepalive.sweep() >= 1
    assert stalled_socket.frames[-1] == KEEPALIVE


async def test_sweeps_run_every_interval_and_stop_on_close() -> None:
    metrics = DocMetrics(CollectorRegistry())
    keepalive = KeepAlive(0.01, metrics.keepalives)
    outbox, socket = outbox_on(1, metrics)
    keepalive.add(outbox)
    await keepalive.start()
    task = keepalive._task
    assert task is not None
    assert await socket.next_frame() == KEEPALIVE
    assert await socket.next_frame() == KEEPALIVE
    await keepalive.close()
    assert task.cancelled()


async def test_an_interval_of_zero_starts_no_sweeps() -> None:
    keepalive = KeepAlive(0.0, DocMetrics(CollectorRegistry()).keepalives)
    await keepalive.start()
    assert keepalive._task is None
    await keepalive.close()
