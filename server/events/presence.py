"""Who is online in a room, across every process.

Each process counts its own open room sockets per user. With Redis, the counts live in the
hash ``{prefix}presence:{room}`` under ``{process}:{user}``, and each process keeps a
liveness key ``{prefix}process:{process}`` alive; a crashed process's entries stop
counting when its liveness key expires, so nobody stays "online" forever
(:class:`~server.events.presence_redis.RedisPresence`).
"""

from __future__ import annotations

import os
import socket
import uuid
from collections import Counter, defaultdict

PROCESS_ID = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
ALIVE_TTL_SECONDS = 15
HEARTBEAT_SECONDS = 5.0


class LocalPresence:
    """Presence of this process only (one machine, or Redis down)."""

    def __init__(self) -> None:
        self._counts: dict[int, Counter[int]] = defaultdict(Counter)

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def arrive(self, room_id: int, user_id: int) -> bool:
        """Count one more socket of ``user_id``; True when they were not online here before."""
        self._counts[room_id][user_id] += 1
        return self._counts[room_id][user_id] == 1

    async def depart(self, room_id: int, user_id: int) -> bool:
        """Count one socket less; True when that was their last one here."""
        counts = self._counts[room_id]
        counts[user_id] -= 1
        if counts[user_id] <= 0:
            del counts[user_id]
            if not counts:
                del self._counts[room_id]
            return True
        return False

    async def online(self, room_id: int) -> set[int]:
        return set(self._counts.get(room_id, ()))
