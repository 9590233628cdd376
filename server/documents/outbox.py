"""The frames waiting for one document socket, sent in order once their commit is done.

Design note. A frame may go out only after the store committed the update it follows (its
"barrier", see :mod:`server.documents.store`). Rather than a task per socket that wakes for every
frame, the outbox sends from the place that makes a frame sendable: ``enqueue`` (no barrier
pending) or the barrier's done-callback. A send is started eagerly: the ASGI send of an
open, writable socket finishes without suspending, so it completes right there; only a
send that must wait (the client reads slowly) is finished by a task, and frames behind it
wait their turn. This keeps fan-out to one ASGI send per recipient, with no task switch.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from server.documents.metrics import DocMetrics

# Frames a slow client may have waiting before we drop it (its provider then resyncs).
MAX_QUEUED_FRAMES = 5000
# The fan-out histogram observes one send in this many: observing every send of a
# 100-client room costs a noticeable share of the fan-out itself.
FANOUT_SAMPLE_EVERY = 8

Send = Callable[[bytes], Coroutine[Any, Any, None]]


class SocketOutbox:
    def __init__(
        self,
        conn_id: int,
        metrics: DocMetrics,
        send: Send,
        on_overflow: Callable[[], Awaitable[None]],
    ) -> None:
        self.conn_id = conn_id
        self.metrics = metrics
        self.closed = False
        self._send = send
        self._on_overflow = on_overflow
        self._frames: deque[tuple[bytes, asyncio.Future[None] | None, float]] = deque()
        self._waiting_on: asyncio.Future[None] | None = None
        self._blocked: asyncio.Task[None] | None = None
        self._sent = 0

    def enqueue(self, frame: bytes, barrier: asyncio.Future[None] | None, since: float) -> None:
        if self.closed:
            return
        if len(self._frames) >= MAX_QUEUED_FRAMES:
            self.close()
            self._blocked = asyncio.ensure_future(self._on_overflow())
            return
        self._frames.append((frame, barrier, since))
        if len(self._frames) == 1:
            self._flush()

    def close(self) -> None:
        """Drop what is queued and stop sending (the socket is closing)."""
        self.closed = True
        self._frames.clear()
        if self._blocked is not None and not self._blocked.done():
            self._blocked.cancel()

    def _flush(self) -> None:
        frames = self._frames
        while frames and self._blocked is None and not self.closed:
            frame, barrier, since = frames[0]
            if barrier is not None and not barrier.done():
                if self._waiting_on is not barrier:
                    self._waiting_on = barrier
                    barrier.add_done_callback(self._barrier_done)
                return
            frames.popleft()
            send = self._send(frame)
            try:
                waiting = send.send(None)
            except StopIteration:
                self._count(since)
                continue
            except Exception:
                self.closed = True  # the socket is gone; the receive loop sees it too
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
        except Exception:
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


def _resume_point(waiting: object) -> Awaitable[object]:
    """What a suspended coroutine yielded: a future to wait for, or None for a bare yield."""
    if isinstance(waiting, asyncio.Future):
        return waiting
    return asyncio.sleep(0)
