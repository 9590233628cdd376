"""Prometheus metrics of the document sockets of one process.

The counters bumped for every frame (updates and bytes, in and out) are :class:`LoopCounter`:
a plain integer that only the event loop's thread adds to, shown at a scrape exactly as a
prometheus_client ``Counter`` of the same name (``<name>_total``, ``<name>_created``). A
``Counter`` takes a lock on every ``inc``; four of them per update cost more than the rest
of the bookkeeping of a fan-out. Likewise the histograms observed for every update (its
commit's wait) and every eighth send (the fan-out's hand-off) are :class:`LoopHistogram`: a
prometheus_client ``Histogram`` takes a lock for its sum and another for its bucket, and its
``observe`` took 2.4 µs on a slow machine here, where this one takes a fifth of that.
"""

from __future__ import annotations

import math
import time
from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString

# How prometheus_client writes a bucket's bound (``le``), typed.
_bound_text: Callable[[float], str] = floatToGoString

# An inline commit takes a fraction of a millisecond; one that waits for the writer's thread,
# this process's write lock or a checkpoint, milliseconds to tens of them.
COMMIT_WAIT_BUCKETS = (
    *(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5),
    1.0,
)

# A recipient of a room of 20 gets an update about 0.1 to 0.4 ms after it arrived (its check,
# apply and commit, then the sends before its own): tenths of a millisecond there, so that
# what the server adds to a delivery's latency can be read off (bench/docs_report.py).
FANOUT_BUCKETS = (
    *(0.0001, 0.0002, 0.0003, 0.0004, 0.0005, 0.00075, 0.001, 0.0025, 0.005, 0.01, 0.025),
    *(0.05, 0.1, 0.25, 0.5, 1.0),
)


class LoopCounter:
    """A counter that only the event loop's thread increments (no lock)."""

    __slots__ = ("created", "documentation", "name", "value")

    def __init__(self, name: str, documentation: str) -> None:
        self.name = name
        self.documentation = documentation
        self.value = 0
        self.created = time.time()

    def inc(self, amount: int = 1) -> None:
        if amount < 0:
            raise ValueError("counters can only be incremented by non-negative amounts")
        self.value += amount


class LoopHistogram:
    """A histogram that only the event loop's thread observes (no lock): per bucket the
    observations at or under its bound (and over the one before), and their sum."""

    __slots__ = ("bounds", "counts", "created", "documentation", "name", "sum")

    def __init__(self, name: str, documentation: str, buckets: Sequence[float]) -> None:
        self.name = name
        self.documentation = documentation
        self.bounds = tuple(sorted(float(bound) for bound in buckets if bound != math.inf))
        self.counts = [0] * (len(self.bounds) + 1)  # the last: over every bound (+Inf)
        self.sum = 0.0
        self.created = time.time()

    def observe(self, amount: float) -> None:
        self.sum += amount
        self.counts[bisect_left(self.bounds, amount)] += 1

    def family(self) -> Metric:
        """What a prometheus_client ``Histogram`` of the same name shows."""
        buckets: list[tuple[str, float]] = []
        total = 0
        for bound, count in zip((*self.bounds, math.inf), self.counts, strict=True):
            total += count
            buckets.append((_bound_text(bound), total))
        family = HistogramMetricFamily(
            self.name, self.documentation, buckets=buckets, sum_value=self.sum
        )
        family.samples.append(Sample(f"{self.name}_created", {}, self.created))
        return family


class LoopCounters(Collector):
    """Shows :class:`LoopCounter` and :class:`LoopHistogram` values at a scrape, registered in
    ``registry``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._counters: list[LoopCounter] = []
        self._histograms: list[LoopHistogram] = []
        self._registry = registry

    def counter(self, name: str, documentation: str) -> LoopCounter:
        counter = LoopCounter(name, documentation)
        self._counters.append(counter)
        return counter

    def histogram(self, name: str, documentation: str, buckets: Sequence[float]) -> LoopHistogram:
        histogram = LoopHistogram(name, documentation, buckets)
        self._histograms.append(histogram)
        return histogram

    def register(self) -> None:
        """Register once every counter is made (the registry checks the names then)."""
        self._registry.register(self)

    def describe(self) -> Iterator[Metric]:
        for counter in self._counters:
            yield CounterMetricFamily(counter.name, counter.documentation)
        for histogram in self._histograms:
            yield HistogramMetricFamily(histogram.name, histogram.documentation)

    def collect(self) -> Iterator[Metric]:
        for counter in self._counters:
            yield CounterMetricFamily(
                counter.name, counter.documentation, value=counter.value, created=counter.created
            )
        for histogram in self._histograms:
            yield histogram.family()


class DocMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.sockets = Gauge(
            "classroom_doc_sockets", "Open document sockets (/yjs).", registry=registry
        )
        self.rooms = Gauge(
            "classroom_doc_rooms_loaded", "Rooms with a document in memory.", registry=registry
        )
        self.documents = Gauge("classroom_docs_loaded", "Documents in memory.", registry=registry)
        self.shared = Gauge(
            "classroom_docs_shared",
            "Documents in memory that another process holds too: only their frames go to the "
            "bus (server/documents/peers.py).",
            registry=registry,
        )
        loop_counters = LoopCounters(registry)
        self.updates_in = loop_counters.counter(
            "classroom_doc_updates_in", "Document updates received from local clients."
        )
        self.updates_out = loop_counters.counter(
            "classroom_doc_updates_out", "Document update frames sent to clients."
        )
        self.bytes_in = loop_counters.counter(
            "classroom_doc_bytes_in", "Bytes received on document sockets."
        )
        self.bytes_out = loop_counters.counter(
            "classroom_doc_bytes_out", "Bytes queued to document sockets."
        )
        self.frames_joined = loop_counters.counter(
            "classroom_doc_frames_joined",
            "Frames written to a socket in one write with the frame before them: a busy "
            "document's frames held to the end of the loop's turn (server/documents/direct.py).",
        )
        self.frames_parsed = loop_counters.counter(
            "classroom_doc_frames_parsed",
            "Binary frames read from document sockets' bytes by the server rather than by the "
            "websockets library's parser (server/documents/frames_in.py).",
        )
        self.fanout = loop_counters.histogram(
            "classroom_doc_fanout_seconds",
            "From receiving a frame to handing it to each recipient's socket.",
            FANOUT_BUCKETS,
        )
        self.commit_wait = loop_counters.histogram(
            "classroom_doc_commit_wait_seconds",
            "From an update reaching the document store to its commit, which every frame "
            "after it waits for (server/documents/store.py): the store's share of the hand-off.",
            COMMIT_WAIT_BUCKETS,
        )
        loop_counters.register()
        self.direct_declined = Counter(
            "classroom_doc_direct_declined",
            "Frames that could not be written straight to the socket (a slow reader or a "
            "closing socket) and took the ASGI send instead (server/documents/direct.py).",
            registry=registry,
        )
        self.direct_readers = Gauge(
            "classroom_doc_direct_readers",
            "Document sockets whose frames are handed over from the ASGI server's data "
            "callback rather than by an ASGI receive each (server/documents/direct.py).",
            registry=registry,
        )
        self.reloads = Counter(
            "classroom_doc_reloads",
            "Documents dropped from memory and loaded again from the store because an update "
            "made the CRDT library fail halfway through a change (registry.py rule 6).",
            registry=registry,
        )
        self.keepalives = Counter(
            "classroom_doc_keepalives",
            "Empty awareness frames sent to document sockets that were sent nothing for a "
            "while, so stock providers do not reconnect (server/documents/keepalive.py).",
            registry=registry,
        )
