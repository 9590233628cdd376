"""The server writing into a shared document (the ``demo`` document follows the demo's code
step): the change travels like an edit from a client — stored, then sent to every local
socket and published for the other processes."""

from __future__ import annotations

import time

import pycrdt

from rooms.sync import Output, update_frame
from server.documents.registry import DocumentRegistry
from server.documents.source import TEXT_FIELD


async def replace_text(
    registry: DocumentRegistry, room_id: int, name: str, text: str, field: str = TEXT_FIELD
) -> bool:
    """Make ``field`` of the document read ``text``. False when it already did."""
    loaded = await registry.acquire(room_id, name)
    try:
        current = loaded.sync.doc
        if str(current.get(field, type=pycrdt.Text)) == text:
            return False
        # Edit a copy, so the change is one update made like any client's.
        scratch: pycrdt.Doc[pycrdt.Text] = pycrdt.Doc()
        scratch.apply_update(current.get_update())
        before = scratch.get_state()
        target = scratch.get(field, type=pycrdt.Text)
        with scratch.transaction():
            del target[:]
            target += text
        update = scratch.get_update(before)
        frame = update_frame(update)
        out = loaded.sync.receive_remote(frame)
        persisted = Output()
        persisted.persist.append(update)
        persisted.publish.append(frame)
        persisted.sends.extend(out.sends)
        loaded.dispatch(persisted, time.perf_counter())
        return True
    finally:
        registry.release(loaded)
