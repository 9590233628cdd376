"""Password checks off the event loop, on a bounded pool.

argon2 costs tens of milliseconds of CPU by design; on the event loop, sixteen failed sign-ins
stalled every socket of the process for seconds. Here at most ``workers`` hashes run at once in
threads (argon2-cffi releases the GIL), and at most ``queue`` more wait; past that the caller
is refused at once rather than queued without end.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from server.auth import check_password, hash_password
from server.exceptions import ServiceUnavailable

T = TypeVar("T")


class PasswordChecker:
    def __init__(self, workers: int = 2, queue: int = 32) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="argon2")
        self._slots = asyncio.Semaphore(workers)
        self._waiting = 0
        self._limit = workers + queue

    async def check(self, stored_hash: str | None, password: str) -> bool:
        return await self._run(check_password, stored_hash, password)

    async def hash(self, password: str) -> str:
        return await self._run(hash_password, password)

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        if self._waiting >= self._limit:
            raise ServiceUnavailable("too many sign-ins at once; try again", code="busy")
        self._waiting += 1
        try:
            async with self._slots:
                loop = asyncio.get_running_loop()
                return await loop.run_in_executor(self._pool, fn, *args)
        finally:
            self._waiting -= 1

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
