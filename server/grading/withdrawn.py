"""A submission refused for capacity is withdrawn, not counted (server/security/fair_runs.py
rule 3)."""

from __future__ import annotations

from rooms.events import only
from server.events.hub import RoomHub
from server.models import Submission
from server.store import Store


async def withdraw(store: Store, hub: RoomHub, room_id: int, row: Submission, reason: str) -> None:
    """Rule 3: delete the refused submission and tell its author it was not counted."""
    async with store.session() as session:
        stored = await session.get(Submission, row.id)
        if stored is not None:
            await session.delete(stored)
    message = {
        "type": "error",
        "code": "sandbox_busy",
        "message": f"your submission was not graded and does not count ({reason}); submit again",
        "exercise_id": row.exercise_id,
    }
    await hub.publish(room_id, only(row.user_id), message)
