"""The sockets of the simulation, as the web client opens them: a single-use ticket from
``POST /api/socket-tickets`` (as ``web/src/tickets.js`` does), then the socket with
``?ticket=``.

* :class:`DocWriter` — a student's file: a real ``pycrdt.Doc`` behind the y-websocket
  protocol (frames from :mod:`rooms.sync`); each keystroke is one Yjs update, sent as it is made.
* :class:`DocWatcher` — one file in the instructor's live view: it syncs, then reports every
  update it receives (the server forwards the bytes it received, so an update is recognised by
  its bytes).
* :class:`EventsSocket` — the room's JSON events socket; every event goes to a handler.
"""

from __future__ import annotations

import asyncio
import json
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import httpx
import pycrdt
from classroom_metrics import Recorder
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from rooms.frames import EMPTY_UPDATE, MessageType, SyncType, step1_frame, step2_frame, update_frame
from rooms.varint import Reader

OPEN_TIMEOUT = 60.0


async def open_socket(
    http: httpx.AsyncClient, server: dict[str, str], token: str, path: str
) -> ClientConnection:
    response = await http.post(
        f"{server['http']}/api/socket-tickets", headers={"authorization": f"Bearer {token}"}
    )
    if response.status_code != 201:
        raise RuntimeError(f"socket ticket refused: {response.status_code} {response.text[:200]}")
    ticket = response.json()["ticket"]
    return await connect(
        f"{server['ws']}{path}?ticket={ticket}", open_timeout=OPEN_TIMEOUT, max_size=16 << 20
    )


class _Socket(ABC):
    """A socket and the task reading it; a close we did not ask for is an error."""

    kind = "socket"

    def __init__(self, rec: Recorder) -> None:
        self.rec = rec
        self.ws: ClientConnection | None = None
        self.reader: asyncio.Task[None] | None = None
        self.replies: set[asyncio.Task[None]] = set()

    def start(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.ws is not None
        try:
            async for message in self.ws:
                self.received(message)
        except ConnectionClosed:
            pass
        except Exception as exc:  # a bug here must show, not hang the run
            self.rec.error(f"{self.kind} reader failed: {type(exc).__name__}")
            raise
        if not self.rec.stopping:
            code = self.ws.close_code
            self.rec.error(f"{self.kind} closed by the server ({code})")

    @abstractmethod
    def received(self, message: str | bytes) -> None:
        """One message from the server (each kind of socket reads its own)."""

    async def send(self, message: str | bytes) -> None:
        assert self.ws is not None
        try:
            await self.ws.send(message)
        except ConnectionClosed:
            self.rec.error(f"{self.kind} send on a closed socket")

    def reply(self, frame: bytes) -> None:
        """Send from the reader (which must not wait on the socket's writes)."""
        task = asyncio.create_task(self.send(frame))
        self.replies.add(task)
        task.add_done_callback(self.replies.discard)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.reader is not None:
            await asyncio.gather(self.reader, return_exceptions=True)


def sync_frames(frame: bytes) -> tuple[int, int, bytes] | None:
    """``(message type, sync type, payload)`` of a sync frame, None for anything else."""
    reader = Reader(frame)
    kind = reader.var_uint()
    if kind == MessageType.AUTH:
        return kind, -1, b""
    if kind != MessageType.SYNC:
        return None
    sub = reader.var_uint()
    return kind, sub, reader.var_bytes()


class DocWriter(_Socket):
    kind = "student document socket"

    def __init__(self, rec: Recorder) -> None:
        super().__init__(rec)
        self.doc: pycrdt.Doc[Any] = pycrdt.Doc()
        self.text = self.doc.get("text", type=pycrdt.Text)
        self.made: list[bytes] = []
        self.remote = False
        self.synced = asyncio.Event()
        self.doc.observe(self._made)

    def _made(self, event: pycrdt.TransactionEvent) -> None:
        if not self.remote:
            self.made.append(event.update)

    async def open(self, ws: ClientConnection) -> None:
        self.start(ws)
        await self.send(step1_frame(self.doc.get_state()))
        await asyncio.wait_for(self.synced.wait(), OPEN_TIMEOUT)

    def received(self, message: str | bytes) -> None:
        if not isinstance(message, bytes):
            return
        parsed = sync_frames(message)
        if parsed is None:
            return
        kind, sub, payload = parsed
        if kind == MessageType.AUTH:
            self.rec.error("document write refused")
        elif sub == SyncType.STEP1:
            self.reply(step2_frame(self.doc.get_update(payload)))
        else:
            self.remote = True
            try:
                self.doc.apply_update(payload)
            finally:
                self.remote = False
            if sub == SyncType.STEP2:
                self.synced.set()

    async def type(self, text: str) -> None:
        """One keystroke (or a pasted line): one update, sent at once."""
        self.text += text
        update = self.made.pop()
        self.made.clear()
        self.rec.doc_update_sent(update, time.monotonic())
        await self.send(update_frame(update))


class DocWatcher(_Socket):
    kind = "instructor document socket"

    def __init__(self, rec: Recorder) -> None:
        super().__init__(rec)
        self.synced = asyncio.Event()

    async def open(self, ws: ClientConnection) -> None:
        self.start(ws)
        await self.send(step1_frame(b"\x00"))
        await asyncio.wait_for(self.synced.wait(), OPEN_TIMEOUT)

    def received(self, message: str | bytes) -> None:
        now = time.monotonic()
        if not isinstance(message, bytes):
            return
        parsed = sync_frames(message)
        if parsed is None:
            return
        _, sub, payload = parsed
        if sub == SyncType.UPDATE:
            self.rec.doc_update_seen(payload, now)
        elif sub == SyncType.STEP1:
            self.reply(step2_frame(EMPTY_UPDATE))
        elif sub == SyncType.STEP2:
            self.synced.set()


class EventsSocket(_Socket):
    kind = "events socket"

    def __init__(self, rec: Recorder, handler: Callable[[dict[str, Any], float], None]) -> None:
        super().__init__(rec)
        self.handler = handler
        self.snapshot = asyncio.Event()

    async def open(self, ws: ClientConnection) -> None:
        self.start(ws)
        await asyncio.wait_for(self.snapshot.wait(), OPEN_TIMEOUT)

    def received(self, message: str | bytes) -> None:
        now = time.monotonic()
        event = json.loads(message)
        if event.get("type") == "room.snapshot":
            self.snapshot.set()
        elif event.get("type") == "error":
            self.rec.error(f"error event {event.get('code')}")
        self.handler(event, now)

    async def command(self, command: dict[str, Any]) -> None:
        await self.send(json.dumps(command))
