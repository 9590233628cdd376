"""How many warm containers each language should have: demand in, targets out (pure).

Design note. Demand is "students who may press Run at the same moment": the online students
of every room where a lesson is on or a live exercise is open, summed per language (the
server counts them, :mod:`server.runs.demand`). Each language keeps at least the operator's
``base`` (``CLASSROOM_POOL_SIZE``); above that the targets follow demand, bounded by a count
(``CLASSROOM_POOL_MAX_CONTAINERS``) and by memory (``CLASSROOM_POOL_MEMORY_MB``: each waiting
container counts at its language's memory limit, what it may take once a run starts in it).
When the budget is short, containers are handed out one at a time, round robin over the
languages that still want one, so a big Python class does not starve a small C one.

Several processes publish demand (one entry each, with the time it was written); an entry
older than ``DEMAND_TTL_SECONDS`` is a dead process's and no longer counts. With several
sandbox workers each takes its share (:func:`worker_share`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

DEMAND_TTL_SECONDS = 15.0


@dataclass(frozen=True)
class PoolBudget:
    """The operator's bounds of a warm pool. ``memory_mb`` 0: no memory bound."""

    base: int = 1
    max_containers: int = 32
    memory_mb: int = 8192


def pool_targets(
    demand: Mapping[str, int], memory_mb: Mapping[str, int], budget: PoolBudget
) -> dict[str, int]:
    """The target of every language in ``memory_mb`` (the pooled languages and their memory
    limit): ``max(base, demand)``, cut down to the budget fairly. Unknown languages in
    ``demand`` are ignored."""
    wanted = {name: max(budget.base, demand.get(name, 0), 0) for name in sorted(memory_mb)}
    targets = dict.fromkeys(wanted, 0)
    count, memory = 0, 0
    progress = True
    while progress:
        progress = False
        for name, want in wanted.items():
            if targets[name] >= want or count >= budget.max_containers:
                continue
            cost = max(0, memory_mb[name])
            if budget.memory_mb and memory + cost > budget.memory_mb:
                continue
            targets[name] += 1
            count += 1
            memory += cost
            progress = True
    return targets


def worker_share(demand: Mapping[str, int], workers: int) -> dict[str, int]:
    """One worker's part of the whole demand when ``workers`` share the run stream (rounded
    up: a burst lands unevenly on the workers)."""
    workers = max(1, workers)
    return {name: math.ceil(n / workers) for name, n in demand.items() if n > 0}


def encode_demand(demand: Mapping[str, int], now: float) -> str:
    """One process's entry in the shared demand hash."""
    return json.dumps({"at": now, "languages": dict(demand)}, separators=(",", ":"))


def total_demand(entries: Iterable[str], now: float) -> dict[str, int]:
    """The sum of the entries written less than :data:`DEMAND_TTL_SECONDS` ago; entries
    that do not parse count as nothing."""
    total: dict[str, int] = {}
    for raw in entries:
        try:
            entry = json.loads(raw)
            at = float(entry["at"])
            languages = dict(entry["languages"])
        except (ValueError, KeyError, TypeError):
            continue
        if now - at > DEMAND_TTL_SECONDS:
            continue
        for name, n in languages.items():
            if isinstance(name, str) and isinstance(n, int) and n > 0:
                total[name] = total.get(name, 0) + n
    return total


def stale_entries(entries: Mapping[str, str], now: float) -> list[str]:
    """The fields of ``entries`` (field → entry) that have faded and may be deleted."""
    stale = []
    for field, raw in entries.items():
        try:
            at = float(json.loads(raw)["at"])
        except (ValueError, KeyError, TypeError):
            stale.append(field)
            continue
        if now - at > DEMAND_TTL_SECONDS:
            stale.append(field)
    return stale
