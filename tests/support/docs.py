"""Read a document's text the way a client does: a real socket on ``/yjs``, step1 with an
empty state vector, the server's step2 applied to a pycrdt document."""

from __future__ import annotations

import asyncio

import pycrdt
from websockets.asyncio.client import connect

from rooms.frames import MessageType, SyncType, step1_frame
from rooms.varint import Reader


async def fetch_text(ws_url: str, room_id: int, doc: str, token: str, timeout: float = 10.0) -> str:  # noqa: ASYNC109
    ydoc: pycrdt.Doc[object] = pycrdt.Doc()
    async with connect(f"{ws_url}/yjs/{room_id}/{doc}?token={token}", max_size=None) as ws:
        await ws.send(step1_frame(b"\x00"))

        async def step2() -> None:
            while True:
                frame = await ws.recv()
                assert isinstance(frame, bytes)
                reader = Reader(frame)
                if reader.var_uint() == MessageType.SYNC and reader.var_uint() == SyncType.STEP2:
                    ydoc.apply_update(reader.var_bytes())
                    return

        await asyncio.wait_for(step2(), timeout)
    return str(ydoc.get("text", type=pycrdt.Text))
