"""A warm pool: started, never-used containers per language, so a run skips create + start.

Rule 1: a container leaves the pool exactly once, into exactly one run or to be removed; it
  never comes back.
Rule 2: a run takes a container only if the container was made with the same *container*
  limits (memory, pids, CPUs, disk, open files). Time and output limits are enforced per run
  by the reader and the wrapper, so a graded run with its exercise's time limit still hits.
Rule 3: each language has a target: the operator's base (``CLASSROOM_POOL_SIZE``) or, while
  classes want more, what :func:`sandbox.demand.pool_targets` makes of :meth:`set_demand`.
  A background filler creates containers up to the targets, at most ``parallel`` at once (the
  engine's pace); a lowered target removes the surplus idle containers at once.
``hits``/``misses`` and :meth:`size`/:meth:`targets` are plain reads for the metrics.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sandbox.demand import PoolBudget, pool_targets
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


def container_shape(limits: Limits) -> tuple[int, int, float, int, int]:
    """The limits a container is made with (see :func:`sandbox.docker.container_config`)."""
    return (limits.memory_mb, limits.pids, limits.cpus, limits.disk_mb, limits.nofile)


@dataclass
class _Slot:
    language: Language
    limits: Limits
    ready: deque[Box]
    target: int
    filling: int = 0


def new_run_id() -> str:
    return uuid.uuid4().hex[:16]


class WarmPool:
    def __init__(
        self,
        create: Create,
        discard: Discard,
        size: int,
        parallel: int = 2,
        budget: PoolBudget | None = None,
    ) -> None:
        self._create = create
        self._discard = discard
        self.target = max(0, size)  # the base of every language
        self.budget = budget or PoolBudget(base=self.target, max_containers=max(32, self.target))
        if self.budget.base != self.target:
            self.budget = PoolBudget(self.target, self.budget.max_containers, self.budget.memory_mb)
        self._parallel = asyncio.Semaphore(max(1, parallel))
        self._slots: dict[str, _Slot] = {}
        self._wake = asyncio.Event()
        self._filled = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._fills: set[asyncio.Task[None]] = set()
        self._removals: set[asyncio.Task[None]] = set()
        self._demand: dict[str, int] = {}
        self._watchers: list[asyncio.Future[None]] = []
        self.hits = 0
        self.misses = 0

    def add_language(self, language: Language, limits: Limits) -> None:
        self._slots[language.name] = _Slot(language, limits, deque(), self.target)
        self._retarget()

    def size(self, language: str | None = None) -> int:
        """Containers waiting now (for one language, or in all)."""
        if language is not None:
            slot = self._slots.get(language)
            return len(slot.ready) if slot else 0
        return sum(len(slot.ready) for slot in self._slots.values())

    def targets(self) -> dict[str, int]:
        return {name: slot.target for name, slot in self._slots.items()}

    def demand(self) -> dict[str, int]:
        return dict(self._demand)

    def set_demand(self, demand: Mapping[str, int]) -> None:
        """Students who may run at once, per language; the targets follow within the budget."""
        self._demand = {name: n for name, n in demand.items() if n > 0}
        self._retarget()

    def take(self, language: str, limits: Limits) -> Box | None:
        """A warm container for a run of ``language`` with ``limits`` (rule 2), or None."""
        slot = self._slots.get(language)
        self._wake.set()
        if (
            slot is None
            or container_shape(slot.limits) != container_shape(limits)
            or not slot.ready
        ):
            self.misses += 1
            return None
        self.hits += 1
        box = slot.ready.popleft()
        self._changed()
        return box

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._fill_forever())

    async def wait_full(self) -> None:
        """Return once every language has its target waiting (for tests and benches)."""
        while any(len(s.ready) < s.target for s in self._slots.values()):
            self._filled.clear()
            self._wake.set()
            await self._filled.wait()

    async def until(self, holds: Callable[[], bool]) -> None:
        """Return once ``holds()`` is true, checked after every change of a target or of the
        containers waiting (for tests and benches; bound it with a timeout)."""
        while not holds():
            seen = asyncio.get_running_loop().create_future()
            self._watchers.append(seen)
            await seen

    async def removed(self) -> None:
        """Return once every container taken out of the pool by a lowered target is gone."""
        await asyncio.gather(*self._removals, return_exceptions=True)

    def _changed(self) -> None:
        watchers, self._watchers = self._watchers, []
        for seen in watchers:
            if not seen.done():
                seen.set_result(None)

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
        await asyncio.shield(asyncio.gather(*self._removals, *(self._discard(b) for b in boxes)))

    def _retarget(self) -> None:
        memory = {name: slot.limits.memory_mb for name, slot in self._slots.items()}
        for name, target in pool_targets(self._demand, memory, self.budget).items():
            slot = self._slots[name]
            slot.target = target
            surplus = [slot.ready.pop() for _ in range(max(0, len(slot.ready) - target))]
            for box in surplus:  # rule 1: removed, never handed out again
                removal = asyncio.ensure_future(self._discard(box))
                self._removals.add(removal)
                removal.add_done_callback(self._removals.discard)
        self._wake.set()
        self._changed()

    async def _fill_forever(self) -> None:
        while True:
            self._wake.clear()
            for slot in self._slots.values():
                while len(slot.ready) + slot.filling < slot.target:
                    slot.filling += 1
                    fill = asyncio.get_running_loop().create_task(self._fill(slot))
                    self._fills.add(fill)
                    fill.add_done_callback(self._fills.discard)
            await self._wake.wait()

    async def _fill(self, slot: _Slot) -> None:
        try:
            async with self._parallel:
                if len(slot.ready) >= slot.target:  # lowered while this fill waited its turn
                    return
                box = await self._create(slot.language, slot.limits, new_run_id())
            if len(slot.ready) >= slot.target:
                await self._discard(box)
            else:
                slot.ready.append(box)
            self._filled.set()
            self._changed()
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
