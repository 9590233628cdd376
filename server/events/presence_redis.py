"""Presence shared by every process through Redis (see :mod:`server.events.presence`).

Its own module so that a process without Redis never imports the client library.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict

import redis.asyncio as redis
from redis.exceptions import RedisError

from sandbox.cancellation import raise_if_cancelled
from server.events.presence import ALIVE_TTL_SECONDS, HEARTBEAT_SECONDS, PROCESS_ID, LocalPresence
from server.redis_clients import bounded_client

log = logging.getLogger("classroom.presence")


class RedisPresence(LocalPresence):
    """Presence shared by every process through Redis; falls back to local counts on error."""

    def __init__(self, url: str, prefix: str = "classroom:") -> None:
        super().__init__()
        self._prefix = prefix
        self._client: redis.Redis = bounded_client(url, socket_connect_timeout=2.0)
        self._heartbeat: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._heartbeat = asyncio.create_task(self._beat(), name="presence-heartbeat")

    async def _beat(self) -> None:
        while True:
            raise_if_cancelled()
            with contextlib.suppress(RedisError, OSError):
                await self._client.set(self._alive_key(PROCESS_ID), 1, ex=ALIVE_TTL_SECONDS)
            await asyncio.sleep(HEARTBEAT_SECONDS)

    async def arrive(self, room_id: int, user_id: int) -> bool:
        first_here = await super().arrive(room_id, user_id)
        try:
            await self._client.set(self._alive_key(PROCESS_ID), 1, ex=ALIVE_TTL_SECONDS)
            await self._client.hincrby(self._key(room_id), f"{PROCESS_ID}:{user_id}", 1)
            return first_here and user_id not in await self._remote_online(room_id)
        except (RedisError, OSError) as exc:
            log.warning("room %s: presence not shared (Redis: %s)", room_id, exc)
            return first_here

    async def depart(self, room_id: int, user_id: int) -> bool:
        last_here = await super().depart(room_id, user_id)
        try:
            if last_here:
                await self._client.hdel(self._key(room_id), f"{PROCESS_ID}:{user_id}")
            else:
                await self._client.hincrby(self._key(room_id), f"{PROCESS_ID}:{user_id}", -1)
            return last_here and user_id not in await self._remote_online(room_id)
        except (RedisError, OSError) as exc:
            log.warning("room %s: presence not shared (Redis: %s)", room_id, exc)
            return last_here

    async def online(self, room_id: int) -> set[int]:
        local = await super().online(room_id)
        try:
            return local | await self._remote_online(room_id)
        except (RedisError, OSError):
            return local

    async def _remote_online(self, room_id: int) -> set[int]:
        """Users online through *other* live processes."""
        entries = await self._client.hgetall(self._key(room_id))
        by_process: dict[str, list[int]] = defaultdict(list)
        for raw_field, raw_count in entries.items():
            name = raw_field.decode() if isinstance(raw_field, bytes) else raw_field
            process, _, user = name.rpartition(":")
            if process != PROCESS_ID and int(raw_count) > 0:
                by_process[process].append(int(user))
        if not by_process:
            return set()
        processes = list(by_process)
        alive = await self._client.mget([self._alive_key(p) for p in processes])
        return {u for p, a in zip(processes, alive, strict=True) if a for u in by_process[p]}

    async def close(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
        with contextlib.suppress(RedisError, OSError):
            for room_id, counts in self._counts.items():
                if counts:
                    await self._client.hdel(
                        self._key(room_id), *[f"{PROCESS_ID}:{u}" for u in counts]
                    )
            await self._client.delete(self._alive_key(PROCESS_ID))
        await self._client.aclose()

    def _key(self, room_id: int) -> str:
        return f"{self._prefix}presence:{room_id}"

    def _alive_key(self, process: str) -> str:
        return f"{self._prefix}process:{process}"
