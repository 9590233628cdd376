"""A warm pool: started, never-used containers per language, so a run skips create + start.

Rule 1: a container leaves the pool exactly once, into exactly one run or to be removed; it
  never comes back.
Rule 2: a run takes a container only if the container was made with the same *container*
  limits (memory, pids, CPUs, disk, open files). Time and output limits are enforced per run
  by the reader and the main process, so a graded run with its exercise's time limit still hits.
Rule 3: each language has a target: the operator's base (``CLASSROOM_POOL_SIZE``) or, while
  classes want more, what :func:`sandbox.demand.pool_targets` makes of :meth:`set_demand`.
  A background filler creates containers up to the targets, at most ``parallel`` at once (the
  engine's pace); a lowered target removes the surplus idle containers at once.
Rule 4: the engine's heavy work yields to the runs in flight. Creating a container costs
  the engine (dockerd, containerd, runc) about 90 ms of CPU here and removing a running one
  about 40, several times a warm run's own work; so while runs are going, a fill waits, up
  to ``defer_seconds``, for them to end, and so does the removal of a used container
  (:meth:`after_runs`). A class that presses Run at once gets the cores, and the pool
  refills right after (``quiet_seconds`` after the last run: the server writes the grades
  and the board then). Once a run of a language finds nothing waiting (a cold start: more
  demand than the pool held), that language's fills go at once until one has landed.
``hits``/``misses`` and :meth:`size`/:meth:`targets` are plain reads for the metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
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
DEFER_SECONDS = 5.0  # rule 4: how long a fill may wait for the runs in flight to end
QUIET_SECONDS = 1.0  # rule 4: and how long after the last run ended (its grade is written)


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
    missed: bool = False  # a run found nothing waiting since the last fill (rule 4)


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
        *,
        defer_seconds: float = DEFER_SECONDS,
        quiet_seconds: float = QUIET_SECONDS,
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
        self.defer_seconds = defer_seconds
        self.quiet_seconds = quiet_seconds
        self._runs = 0  # runs in flight (rule 4)
        self._quiet_since = float("-inf")  # when the last run in flight ended
        self._closing = False
        self.hits = 0
        self.misses = 0
        self.deferred = 0  # fills that waited for runs to end

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
        if slot is None or container_shape(slot.limits) != container_shape(limits):
            self.misses += 1
            return None
        if not slot.ready:
            self.misses += 1
            slot.missed = True  # rule 4: this language's fills go at once
            self._changed()
            return None
        self.hits += 1
        box = slot.ready.popleft()
        self._changed()
        return box

    def run_began(self) -> None:
        """A run started (rule 4: fills wait for it, within ``defer_seconds``)."""
        self._runs += 1

    def run_ended(self) -> None:
        self._runs = max(0, self._runs - 1)
        if not self._runs:
            self._quiet_since = asyncio.get_running_loop().time()
            self._changed()

    def busy(self) -> bool:
        """Runs are in flight, or the last ended less than ``quiet_seconds`` ago (rule 4)."""
        if self._runs:
            return True
        return asyncio.get_running_loop().time() - self._quiet_since < self.quiet_seconds

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
        """Return once every container taken out of the pool by a lowered target is gone
        (also one whose fill lands after the target was lowered)."""
        await asyncio.gather(*self._removals, *self._fills, return_exceptions=True)

    def _changed(self) -> None:
        watchers, self._watchers = self._watchers, []
        for seen in watchers:
            if not seen.done():
                seen.set_result(None)

    def closing(self) -> None:
        """The backend is closing: nothing waits for runs any more (rule 4)."""
        self._closing = True
        self._changed()

    async def close(self) -> None:
        self.closing()
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

    async def after_runs(self, unless: Callable[[], bool] = lambda: False) -> bool:
        """Rule 4: wait while runs are in flight and ``quiet_seconds`` after the last ended
        (the server is still writing their grades then), unless ``unless()`` turns true; at
        most ``defer_seconds`` in all. False if there was nothing to wait for. Fills and the
        removal of used containers both wait here: the engine's heavy work goes between runs."""
        if self._closing or not self.busy() or unless():
            return False
        loop = asyncio.get_running_loop()

        def stop() -> bool:
            return self._closing or unless()

        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.defer_seconds):
                while not stop():
                    if self._runs:
                        await self.until(lambda: stop() or not self._runs)
                        continue
                    left = self._quiet_since + self.quiet_seconds - loop.time()
                    if left <= 0:
                        break
                    with contextlib.suppress(TimeoutError):  # quiet for long enough
                        async with asyncio.timeout(left):
                            await self.until(lambda: stop() or bool(self._runs))
        return True

    async def _yield_to_runs(self, slot: _Slot) -> None:
        """Rule 4 for a fill: it goes at once once a run of ``slot`` found nothing waiting."""
        if self.busy() and not slot.missed:
            self.deferred += 1
            self._changed()
            await self.after_runs(lambda: slot.missed or len(slot.ready) >= slot.target)

    async def _fill(self, slot: _Slot) -> None:
        try:
            await self._yield_to_runs(slot)
            async with self._parallel:
                if len(slot.ready) >= slot.target:  # lowered while this fill waited its turn
                    return
                box = await self._create(slot.language, slot.limits, new_run_id())
            if len(slot.ready) >= slot.target:
                await self._discard(box)
            else:
                slot.ready.append(box)
                slot.missed = False
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
