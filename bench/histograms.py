"""Prometheus histograms in a server's ``/metrics`` text, and what one window of them held.

A histogram's buckets are cumulative counts since the server started; two scrapes, at a
window's edges, give the observations made in the window, and the upper bounds of the buckets
that hold a share of them (a bucket's bound, not the value itself: that is all a histogram
keeps)."""

from __future__ import annotations

import urllib.request
from dataclasses import dataclass


def buckets_of(exposition: str, metric: str) -> dict[float, float]:
    """Cumulative count by upper bound (seconds) of the histogram ``metric`` (no labels but
    ``le``) in a ``/metrics`` text; empty when the text has none."""
    prefix = metric + "_bucket{"
    buckets: dict[float, float] = {}
    for line in exposition.splitlines():
        if line.startswith(prefix):
            labels, _, value = line.rpartition(" ")
            bound = labels.split('le="', 1)[1].split('"', 1)[0]
            buckets[float(bound)] = float(value)
    return buckets


def scrape(url: str) -> str | None:
    """The ``/metrics`` text at ``url``, or None when it cannot be read."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            text: str = response.read().decode()
            return text
    except OSError:
        return None


@dataclass(frozen=True)
class Observed:
    """The observations between two scrapes: per bucket, cumulative, in the order of bounds."""

    pairs: tuple[tuple[float, float], ...]  # (upper bound in seconds, count up to it)

    @property
    def total(self) -> float:
        return self.pairs[-1][1]

    def bound_of(self, share: float) -> float:
        """The upper bound (seconds; inf past the last bucket) of the bucket holding the
        observation at ``share`` (0.5: the median; 1.0: the largest)."""
        return next(bound for bound, count in self.pairs if count >= share * self.total)

    def above(self, seconds: float) -> float:
        """How many observations exceeded the bucket bound ``seconds``."""
        within = max((count for bound, count in self.pairs if bound <= seconds), default=0.0)
        return self.total - within


def window(before: dict[float, float], after: dict[float, float]) -> Observed | None:
    """What was observed between two scrapes' buckets; None when nothing was."""
    bounds = sorted(after)
    pairs = tuple((bound, after[bound] - before.get(bound, 0.0)) for bound in bounds)
    if not pairs or pairs[-1][1] <= 0:
        return None
    return Observed(pairs)
