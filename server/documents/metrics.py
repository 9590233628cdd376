"""Prometheus metrics of the document sockets of one process.

The counters bumped for every frame (updates and bytes, in and out) are :class:`LoopCounter`:
a plain integer that only the event loop's thread adds to, shown at a scrape exactly as a
prometheus_client ``Counter`` of the same name (``<name>_total``, ``<name>_created``). A
``Counter`` takes a lock on every ``inc``; four of them per update cost more than the rest
of the bookkeeping of a fan-out.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

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


class LoopCounters(Collector):
    """Shows :class:`LoopCounter` values at a scrape, registered in ``registry``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._counters: list[LoopCounter] = []
        self._registry = registry

    def counter(self, name: str, documentation: str) -> LoopCounter:
        counter = LoopCounter(name, documentation)
        self._counters.append(counter)
        return counter

    def register(self) -> None:
        """Register once every counter is made (the registry checks the names then)."""
        self._registry.register(self)

    def describe(self) -> Iterator[CounterMetricFamily]:
        for counter in self._counters:
            yield CounterMetricFamily(counter.name, counter.documentation)

    def collect(self) -> Iterator[CounterMetricFamily]:
        for counter in self._counters:
            yield CounterMetricFamily(
                counter.name, counter.documentation, value=counter.value, created=counter.created
            )


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
        self.fanout = Histogram(
            "classroom_doc_fanout_seconds",
            "From receiving a frame to handing it to each recipient's socket.",
            registry=registry,
            buckets=FANOUT_BUCKETS,
        )
        self.commit_wait = Histogram(
            "classroom_doc_commit_wait_seconds",
            "From an update reaching the document store to its commit, which every frame "
            "after it waits for (server/documents/store.py): the store's share of the hand-off.",
            registry=registry,
            buckets=COMMIT_WAIT_BUCKETS,
        )
