"""A warm pool: started, never-used containers per language, so a run skips create + start.

Rule: a container leaves the pool exactly once, into exactly one run; it never comes back.
The pool holds containers made with a language's default limits only; a run with other limits
(or an empty pool) takes the cold path. After every take, a background filler creates a
replacement; ``size`` 0 disables the pool. ``hits``/``misses``/:meth:`size` are plain
attributes for the metrics endpoint to read.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sandbox.languages import Language
from sandbox.model import Limits

log = logging.getLogger("classroom.sandbox")

RETRY_SECONDS = 2.0


@dataclass
class Box:
    """A started container waiting for (or serving) one run."""

    run_id: str
    container: Any  # aiodocker DockerContainer
    removed: bool = False


Create = Callable[[Language, Limits, str], Awaitable[Box]]
Discard = Callable[[Box], Awaitable[None]]


@dataclass
class _Slot:
    language: Language
    limits: Limits
    ready: deque[Box]
    filling: int = 0


def new_run_id() -> str:
    return uuid.uuid4().hex[:16]


class WarmPool:
    def __init__(self, create: Create, discard: Discard, size: int, parallel: int = 2) -> None:
        self._create = create
        self._discard = discard
        self.target = max(0, size)
        self._parallel = asyncio.Semaphore(max(1, parallel))
        self._slots: dict[str, _Slot] = {}
        self._wake = asyncio.Event()
        self._filled = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._fills: set[asyncio.Task[None]] = set()
        self.hits = 0
        self.misses = 0

    def add_language(self, language: Language, limits: Limits) -> None:
        self._slots[language.name] = _Slot(language, limits, deque())
        self._wake.set()

    def size(self, language: str | None = None) -> int:
        """Containers waiting now (for one language, or in all)."""
        if language is not None:
            slot = self._slots.get(language)
            return len(slot.ready) if slot else 0
        return sum(len(slot.ready) for slot in self._slots.values())

    def take(self, language: str, limits: Limits) -> Box | None:
        """A warm container for a run of ``language`` with exactly ``limits``, or None."""
        slot = self._slots.get(language)
        if slot is None or slot.limits != limits or not slot.ready:
            self.misses += 1
            self._wake.set()
            return None
        self.hits += 1
        self._wake.set()
        return slot.ready.popleft()

    def start(self) -> None:
        if self.target > 0 and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._fill_forever())

    async def wait_full(self) -> None:
        """Return once every language has ``target`` containers waiting (for tests and benches)."""
        while any(len(s.ready) < self.target for s in self._slots.values()):
            self._filled.clear()
            self._wake.set()
            await self._filled.wait()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        for fill in list(self._fills):
            fill.cancel()
        await asyncio.gather(*self._fills, return_exceptions=True)
        boxes = [box for slot in self._slots.values() for box in slot.ready]
        for slot in self._slots.values():
            slot.ready.clear()
        await asyncio.shield(asyncio.gather(*(self._discard(b) for b in boxes)))

    async def _fill_forever(self) -> None:
        while True:
            self._wake.clear()
            for slot in self._slots.values():
                while len(slot.ready) + slot.filling < self.target:
                    slot.filling += 1
                    fill = asyncio.get_running_loop().create_task(self._fill(slot))
                    self._fills.add(fill)
                    fill.add_done_callback(self._fills.discard)
            await self._wake.wait()

    async def _fill(self, slot: _Slot) -> None:
        try:
            async with self._parallel:
                box = await self._create(slot.language, slot.limits, new_run_id())
            slot.ready.append(box)
            self._filled.set()
        except asyncio.CancelledError:
            raise
        except Exception:  # a task boundary: log, back off, try again
            log.warning(
                "warm pool: creating a %s container failed", slot.language.name, exc_info=True
            )
            await asyncio.sleep(RETRY_SECONDS)
        finally:
            slot.filling -= 1
            self._wake.set()
