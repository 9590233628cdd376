"""The frames waiting for one document socket, sent in order once their commit is done.

Design note. A frame may go out only after the store committed the update it follows (its
"barrier", see :mod:`server.documents.store`). Rather than a task per socket that wakes for every
frame, the outbox sends from the place that makes a frame sendable: ``enqueue`` (no barrier
pending) or the barrier's done-callback. Where the socket has a
:class:`~server.documents.direct.DirectWriter`, a frame is written straight to its transport,
encoded once for every recipient (direct.py); otherwise, or when that writer declines, a send
is started eagerly: the ASGI send of an open, writable socket finishes without suspending, so
it completes right there; only a send that must wait (the client reads slowly) is finished by
a task, and frames behind it wait their turn. Either way there is no task switch per frame.
A document hands one frame to all its recipients with :func:`fan_out`, which does what
``enqueue`` does for each without a call per recipient in the common case.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

from server.documents.direct import TurnWrites, wire_frame
from server.documents.metrics import DocMetrics

log = logging.getLogger("classroom.docs")

# Frames a slow client may have waiting before we drop it (its provider then resyncs).
MAX_QUEUED_FRAMES = 5000
# The fan-out histogram observes one send in this many: observing every send of a
# 100-client room costs a noticeable share of the fan-out itself.
FANOUT_SAMPLE_EVERY = 8

Send = Callable[[bytes], Coroutine[Any, Any, None]]


class FrameWriter(Protocol):
    """Writes encoded frames without an await (server.documents.direct.DirectWriter)."""

    def write(self, wire: bytes, turn: TurnWrites | None = None) -> bool: ...


# The last frame encoded for the wire: a fan-out enqueues one frame object for every
# recipient in a row, so one entry encodes it once per update.
_last_wire: tuple[bytes, bytes] = (b"", wire_frame(b""))


def _wire_of(frame: bytes) -> bytes:
    global _last_wire  # noqa: PLW0603 - a one-entry cache, read and written on the loop only
    last, wire = _last_wire
    if frame is not last:
        wire = wire_frame(frame)
        _last_wire = (frame, wire)
    return wire


class SocketOutbox:
    # Slots: an outbox is read for every recipient of every update, most of them cold in the
    # cache; its attributes in the object itself are fewer memory reads than a dict's.
    __slots__ = (
        "_blocked",
        "_direct",
        "_frames",
        "_on_overflow",
        "_send",
        "_sent",
        "_waiting_on",
        "closed",
        "conn_id",
        "metrics",
    )

    def __init__(
        self,
        conn_id: int,
        metrics: DocMetrics,
        send: Send,
        on_overflow: Callable[[], Awaitable[None]],
        direct: FrameWriter | None = None,
    ) -> None:
        self.conn_id = conn_id
        self.metrics = metrics
        self.closed = False
        self._send = send
        self._on_overflow = on_overflow
        self._direct = direct
        # (frame, its wire bytes when written directly, barrier, since)
        self._frames: deque[tuple[bytes, bytes, asyncio.Future[None] | None, float]] = deque()
        self._waiting_on: asyncio.Future[None] | None = None
        self._blocked: asyncio.Task[None] | None = None
        self._sent = 0

    def enqueue(
        self,
        frame: bytes,
        barrier: asyncio.Future[None] | None,
        since: float,
        wire: bytes | None = None,
        turn: TurnWrites | None = None,
    ) -> None:
        """Send ``frame`` once ``barrier`` is done (``wire``: its bytes from
        :func:`~server.documents.direct.wire_frame`, if the caller has them; ``turn``: hold
        them for one write at the end of the turn, direct.py rule 5)."""
        if self.closed:
            return
        direct = self._direct
        if direct is not None and barrier is None and not self._frames and self._blocked is None:
            # Nothing ahead of it and nothing to wait for: straight to the socket.
            if wire is None:
                wire = _wire_of(frame)
            if direct.write(wire, turn):
                # _count, inlined: this is the path of nearly every frame.
                self._sent = sent = self._sent + 1
                if sent % FANOUT_SAMPLE_EVERY == 0:
                    self.metrics.fanout.observe(time.perf_counter() - since)
                return
        elif len(self._frames) >= MAX_QUEUED_FRAMES:
            self.close()
            self._blocked = asyncio.ensure_future(self._on_overflow())
            return
        else:
            wire = (wire or _wire_of(frame)) if direct is not None else frame
        self._queue(frame, wire, barrier, since)

    def _queue(
        self, frame: bytes, wire: bytes, barrier: asyncio.Future[None] | None, since: float
    ) -> None:
        self._frames.append((frame, wire, barrier, since))
        if len(self._frames) == 1:
            self._flush()

    @property
    def writes_directly(self) -> bool:
        return self._direct is not None

    @property
    def sent(self) -> int:
        """Frames handed to the socket so far (the keep-alive sweep reads it)."""
        return self._sent

    @property
    def idle(self) -> bool:
        """Nothing waiting: no frame queued, no send unfinished."""
        return not self._frames and self._blocked is None

    def close(self) -> None:
        """Drop what is queued and stop sending (the socket is closing)."""
        self.closed = True
        self._frames.clear()
        if self._blocked is not None and not self._blocked.done():
            self._blocked.cancel()

    def _flush(self) -> None:
        frames = self._frames
        while frames and self._blocked is None and not self.closed:
            frame, wire, barrier, since = frames[0]
            if barrier is not None and not barrier.done():
                if self._waiting_on is not barrier:
                    self._waiting_on = barrier
                    barrier.add_done_callback(self._barrier_done)
                return
            frames.popleft()
            if self._direct is not None:
                if self._direct.write(wire):
                    self._count(since)
                    continue
                self.metrics.direct_declined.inc()
            send = self._send(frame)
            try:
                waiting = send.send(None)
            except StopIteration:
                self._count(since)
                continue
            except Exception as exc:
                # The socket is gone; the receive loop sees it too.
                log.info("doc socket %s: a send failed (%r); no more frames", self.conn_id, exc)
                self.closed = True
                frames.clear()
                return
            self._blocked = asyncio.ensure_future(self._finish(send, waiting, since))

    def _barrier_done(self, barrier: asyncio.Future[None]) -> None:
        if self._waiting_on is barrier:
            self._waiting_on = None
        self._flush()

    async def _finish(self, send: Coroutine[Any, Any, None], waiting: object, since: float) -> None:
        """Drive a send that suspended, as a task would, then go on with the queue."""
        done = False
        try:
            while True:
                with contextlib.suppress(Exception):
                    await _resume_point(waiting)
                try:
                    waiting = send.send(None)
                except StopIteration:
                    done = True
                    break
        except Exception as exc:
            log.info("doc socket %s: a send failed (%r); no more frames", self.conn_id, exc)
            self.closed = True
            self._frames.clear()
        finally:
            if not done:
                send.close()
            self._blocked = None
        if done:
            self._count(since)
            self._flush()

    def _count(self, since: float) -> None:
        self._sent += 1
        if self._sent % FANOUT_SAMPLE_EVERY == 0:
            self.metrics.fanout.observe(time.perf_counter() - since)


def fan_out(
    outboxes: list[SocketOutbox],
    frame: bytes,
    barrier: asyncio.Future[None] | None,
    since: float,
    *,
    wire: bytes,
    turn: TurnWrites | None = None,
    skip: SocketOutbox | None = None,
) -> None:
    """``enqueue`` the same frame to each of ``outboxes`` but ``skip`` (``wire``: its bytes
    from :func:`~server.documents.direct.wire_frame`).

    Its common case, a frame with nothing ahead of it written straight to the socket, is
    ``enqueue``'s first branch written out here: this runs for every recipient of every
    update, and a call each was a sizeable share of the update's work (bench/README.md)."""
    for outbox in outboxes:
        if outbox.closed or outbox is skip:
            continue
        direct = outbox._direct
        if direct is None or barrier is not None or outbox._frames or outbox._blocked is not None:
            outbox.enqueue(frame, barrier, since, wire, turn)
        elif direct.write(wire, turn):
            outbox._sent = sent = outbox._sent + 1
            if sent % FANOUT_SAMPLE_EVERY == 0:
                outbox.metrics.fanout.observe(time.perf_counter() - since)
        else:
            outbox._queue(frame, wire, barrier, since)  # as enqueue does when declined


def _resume_point(waiting: object) -> Awaitable[object]:
    """What a suspended coroutine yielded: a future to wait for, or None for a bare yield.

    A future that a coroutine yields is marked "blocking" by its ``__await__``; a Task
    clears that mark before it waits. We drive the coroutine ourselves, so we clear it:
    awaiting a future still marked raises "await wasn't used with future" (the C Future),
    which once silently stopped every frame to a reader that had fallen behind.
    """
    if isinstance(waiting, asyncio.Future):
        waiting._asyncio_future_blocking = False
        return waiting
    return asyncio.sleep(0)
