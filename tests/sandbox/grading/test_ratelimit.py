from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.grading.ratelimit import Decision, RateLimiter


def test_sliding_window_with_a_fake_clock() -> None:
    limiter = RateLimiter(count=3, window=60.0)
    assert limiter.acquire("ada", 0.0) == Decision(True, 2, 0.0)
    assert limiter.acquire("ada", 10.0) == Decision(True, 1, 0.0)
    assert limiter.acquire("ada", 20.0) == Decision(True, 0, 0.0)
    assert limiter.acquire("ada", 30.0) == Decision(False, 0, 30.0)
    # another student is not affected
    assert limiter.acquire("bob", 30.0).allowed
    # the first acquisition leaves the window at t=60
    assert limiter.acquire("ada", 59.9) == Decision(False, 0, pytest.approx(0.1))
    assert limiter.acquire("ada", 60.0) == Decision(True, 0, 0.0)
    assert limiter.acquire("ada", 61.0) == Decision(False, 0, 9.0)


def test_refused_attempts_do_not_count() -> None:
    limiter = RateLimiter(count=1, window=10.0)
    assert limiter.acquire("k", 0.0).allowed
    for t in range(1, 10):
        assert not limiter.acquire("k", float(t)).allowed
    assert limiter.acquire("k", 10.0).allowed


def test_per_call_override() -> None:
    limiter = RateLimiter(count=100, window=1.0)
    key = ("ada", "exercise-1")
    assert limiter.acquire(key, 0.0, count=1, window=300.0).allowed
    assert limiter.acquire(key, 200.0, count=1, window=300.0) == Decision(False, 0, 100.0)


def test_sweep_forgets_idle_keys_but_keeps_long_windows() -> None:
    limiter = RateLimiter(count=1, window=10.0)
    limiter.acquire("short", 0.0)
    limiter.acquire("long", 0.0, window=1000.0)
    limiter.sweep(500.0)
    assert limiter.tracked == 2
    assert not limiter.acquire("long", 500.0, window=1000.0).allowed
    assert limiter.acquire("short", 500.0).allowed
    limiter.sweep(5000.0)
    assert limiter.tracked == 0


def test_acquire_sweeps_by_itself() -> None:
    limiter = RateLimiter(count=1, window=1.0)
    for i in range(5000):
        limiter.acquire(f"student-{i}", float(i))
    assert limiter.tracked < 1100


def test_bad_limits() -> None:
    with pytest.raises(ValueError, match="count >= 1 and window > 0"):
        RateLimiter(count=0, window=1.0)


@given(
    st.integers(min_value=1, max_value=5),
    st.lists(st.floats(min_value=0.0, max_value=5.0), min_size=1, max_size=60),
)
def test_never_more_than_count_in_any_window(count: int, gaps: list[float]) -> None:
    limiter = RateLimiter(count=count, window=10.0)
    now, allowed = 0.0, []
    for gap in gaps:
        now += gap
        decision = limiter.acquire("k", now)
        if decision.allowed:
            allowed.append(now)
        else:
            assert decision.retry_after > 0
    for start in allowed:
        assert sum(start <= t < start + 10.0 for t in allowed) <= count
