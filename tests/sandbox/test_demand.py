"""The pure warm-pool decisions: targets from demand within a budget, shares, fading entries."""

from __future__ import annotations

from sandbox.demand import (
    DEMAND_TTL_SECONDS,
    PoolBudget,
    encode_demand,
    pool_targets,
    stale_entries,
    total_demand,
    worker_share,
)

MEMORY = {"python": 256, "c": 256, "rust": 512}


def test_no_demand_keeps_the_base_of_every_language() -> None:
    assert pool_targets({}, MEMORY, PoolBudget(base=1)) == {"c": 1, "python": 1, "rust": 1}
    assert pool_targets({}, MEMORY, PoolBudget(base=0)) == {"c": 0, "python": 0, "rust": 0}


def test_targets_follow_demand_above_the_base() -> None:
    targets = pool_targets({"python": 30}, MEMORY, PoolBudget(base=1, memory_mb=0))
    assert targets == {"c": 1, "python": 30, "rust": 1}


def test_languages_without_a_pool_are_ignored() -> None:
    assert pool_targets({"cobol": 9}, {"python": 256}, PoolBudget(base=0)) == {"python": 0}


def test_the_container_count_bounds_the_sum() -> None:
    targets = pool_targets({"python": 30}, MEMORY, PoolBudget(base=1, max_containers=10))
    assert sum(targets.values()) == 10
    assert targets == {"c": 1, "python": 8, "rust": 1}


def test_memory_counts_each_container_at_its_language_limit() -> None:
    budget = PoolBudget(base=0, max_containers=100, memory_mb=1024)
    assert pool_targets({"python": 30}, MEMORY, budget) == {"c": 0, "python": 4, "rust": 0}
    # round robin: python, rust, python (1024); then neither fits
    both = pool_targets({"python": 30, "rust": 5}, MEMORY, budget)
    assert both == {"c": 0, "python": 2, "rust": 1}
    assert sum(MEMORY[n] * k for n, k in both.items()) <= 1024


def test_a_short_budget_is_shared_round_robin() -> None:
    budget = PoolBudget(base=0, max_containers=6, memory_mb=0)
    targets = pool_targets({"python": 30, "c": 2, "rust": 30}, MEMORY, budget)
    assert targets == {"c": 2, "python": 2, "rust": 2}


def test_a_worker_takes_its_share_rounded_up() -> None:
    assert worker_share({"python": 30, "c": 1}, 4) == {"python": 8, "c": 1}
    assert worker_share({"python": 30, "c": 0}, 0) == {"python": 30}


def test_entries_add_up_until_they_fade() -> None:
    now = 1000.0
    fresh = encode_demand({"python": 12}, now - 1)
    other = encode_demand({"python": 3, "c": 4}, now - 2)
    dead = encode_demand({"python": 99}, now - DEMAND_TTL_SECONDS - 1)
    assert total_demand([fresh, other, dead, "not json"], now) == {"python": 15, "c": 4}
    entries = {"a": fresh, "b": dead, "c": "{}"}
    assert sorted(stale_entries(entries, now)) == ["b", "c"]
