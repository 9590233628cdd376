"""A sliding-window rate limiter for submissions, pure: the caller passes the time.

``RateLimiter(count=5, window=60).acquire(key, now)`` allows at most ``count`` acquisitions per
key in any ``window`` seconds. ``now`` is any monotonic clock in seconds (the server passes
``time.monotonic()``; tests pass numbers). An exercise may override the limit per call.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass

_SWEEP_EVERY = 1024


@dataclass(frozen=True)
class Decision:
    allowed: bool
    remaining: int
    retry_after: float
    """Seconds until the next acquisition would be allowed (0 when allowed now)."""


class RateLimiter:
    def __init__(self, count: int, window: float) -> None:
        if count < 1 or window <= 0:
            raise ValueError("a rate limit needs count >= 1 and window > 0")
        self.count, self.window = count, window
        self._hits: dict[Hashable, deque[float]] = {}
        self._calls = 0
        self._longest = window

    def acquire(
        self, key: Hashable, now: float, *, count: int | None = None, window: float | None = None
    ) -> Decision:
        """Record an acquisition for ``key`` if the limit allows it, and say so."""
        count = self.count if count is None else count
        window = self.window if window is None else window
        self._calls += 1
        self._longest = max(self._longest, window)
        if self._calls % _SWEEP_EVERY == 0:
            self.sweep(now)
        hits = self._hits.setdefault(key, deque())
        # ``hit + window <= now``, not ``hit <= now - window``: the same arithmetic as
        # ``retry_after`` below, so a wait that rounds to 0 is never refused.
        while hits and hits[0] + window <= now:
            hits.popleft()
        if len(hits) >= count:
            return Decision(False, 0, hits[len(hits) - count] + window - now)
        hits.append(now)
        return Decision(True, count - len(hits), 0.0)

    @property
    def tracked(self) -> int:
        """How many keys are remembered."""
        return len(self._hits)

    def sweep(self, now: float) -> None:
        """Forget keys with no acquisition inside the longest window seen, so memory stays
        bounded; called by :meth:`acquire` every so often."""
        horizon = now - self._longest
        for key in [k for k, hits in self._hits.items() if not hits or hits[-1] <= horizon]:
            del self._hits[key]
