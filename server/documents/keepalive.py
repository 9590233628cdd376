"""Keeps quiet document sockets open: the stock provider drops one it has not heard from.

Design note. The y-websocket provider (1.5.4) closes its socket and reconnects when it has
received nothing for 30 s; it counts on its own awareness renewals coming back
(rooms/sync.py rule 2). A tab that publishes no presence (``setLocalState(null)``: the
teacher's grid of student files, a read-only viewer) on a document nobody else is typing in
hears nothing, so it reconnected every 33 s: a new socket ticket, a new sync, a moment shown
offline. The reference y-websocket server behaves the same way; we do not.

Rule 1 — every ``interval`` (10 s by default) a sweep looks at each open document socket;
one that was sent nothing since the last sweep, and has nothing waiting, gets an empty
awareness update (three bytes, :data:`KEEPALIVE`). The provider applies it (no entries: no
change, no update event, nothing sent back) and notes that it heard the server. So no socket
is quiet for more than two intervals: 20 s, within the provider's 30.

Rule 2 — nothing is added to the send path: a sweep reads the count of frames each outbox
keeps anyway (``SocketOutbox.sent``). A busy socket costs the sweep one comparison.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Protocol

from prometheus_client import Counter

from rooms.awareness import encode_awareness
from rooms.frames import awareness_frame

log = logging.getLogger("classroom.docs")

KEEPALIVE = awareness_frame(encode_awareness([]))


class Quiet(Protocol):
    """What a sweep needs of an outbox (server.documents.outbox.SocketOutbox)."""

    @property
    def sent(self) -> int: ...

    @property
    def idle(self) -> bool: ...

    closed: bool

    def enqueue(self, frame: bytes, barrier: asyncio.Future[None] | None, since: float) -> None: ...


class KeepAlive:
    """The open document sockets of this process, and the sweep that keeps them heard."""

    def __init__(self, interval: float, sent: Counter) -> None:
        """``interval`` seconds between sweeps (0: none); ``sent`` counts the frames sent."""
        self.interval = interval
        self._sent = sent
        self._seen: dict[Quiet, int] = {}  # each outbox's count of frames at the last sweep
        self._task: asyncio.Task[None] | None = None

    def add(self, outbox: Quiet) -> None:
        self._seen[outbox] = outbox.sent

    def discard(self, outbox: Quiet) -> None:
        self._seen.pop(outbox, None)

    def sweep(self) -> int:
        """Rule 1, once: send :data:`KEEPALIVE` where nothing went since the last sweep.
        Returns how many were sent."""
        now = time.perf_counter()
        sent = 0
        for outbox, before in self._seen.items():
            count = outbox.sent
            if count == before and outbox.idle and not outbox.closed:
                outbox.enqueue(KEEPALIVE, None, now)
                count = outbox.sent
                sent += 1
            self._seen[outbox] = count
        if sent:
            self._sent.inc(sent)
        return sent

    async def start(self) -> None:
        if self.interval > 0 and self._task is None:
            self._task = asyncio.create_task(self._run(), name="docs-keepalive")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                self.sweep()
            except Exception:  # a bug here must not end the sweeps of every other socket
                log.error("keep-alive sweep failed", exc_info=True)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        self._seen.clear()
