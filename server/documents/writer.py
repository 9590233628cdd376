"""The server writing into a shared document (the ``demo`` document follows the demo's code
step): :meth:`DocumentSync.replace_text` makes the change like an edit from a client, and this
adapter moves its bytes — stored, then sent to every local socket and published for the other
processes."""

from __future__ import annotations

import time

from server.documents.registry import DocumentRegistry
from server.documents.source import TEXT_FIELD


async def replace_text(
    registry: DocumentRegistry, room_id: int, name: str, text: str, field: str = TEXT_FIELD
) -> bool:
    """Make ``field`` of the document read ``text``. False when it already did."""
    loaded = await registry.acquire(room_id, name)
    try:
        out = loaded.sync.replace_text(field, text)
        if not out.persist:
            return False
        loaded.dispatch(out, time.perf_counter())
        return True
    finally:
        registry.release(loaded)
